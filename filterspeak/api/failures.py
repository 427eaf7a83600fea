"""The failures of a finished build: its most frequent test confusions, each with the sentence
and the ranked attributes that tell the two classes apart (the tables of the `failures` stage)."""

from __future__ import annotations

from filterspeak.tasks.graph import require_stage


def top_confusions(build, top: int) -> list[dict]:
    """The `top` most frequent confusions of a finished build (a BuildView), each with its
    sentence and ranked attributes, as `filterspeak failures --json` prints them."""
    require_stage(build, "failures", "the failure analysis")
    confusions = build.read("confusions").sort_values(["count", "true_class_id", "predicted_class_id"], ascending=[False, True, True])
    attributes = build.read("confusion_attributes").sort_values("rank")
    by_pair = {key: group for key, group in attributes.groupby(["true_class_id", "predicted_class_id"])}
    names = build.read("classes").set_index("class_id")["name"]
    out = []
    for item in confusions.head(top).itertuples():
        ranked = by_pair.get((item.true_class_id, item.predicted_class_id), attributes.iloc[:0])
        out.append(
            {
                "true_class": names[item.true_class_id],
                "predicted_class": names[item.predicted_class_id],
                "count": int(item.count),
                "rate": round(float(item.rate), 4),
                "sentence": item.sentence,
                "attributes": [
                    {"phrase": a.phrase, "score": round(float(a.score), 4), "direction": a.direction} for a in ranked.itertuples()
                ],
            }
        )
    return out
