"""`filterspeak failures`: the build's most frequent confusions, each with a sentence that says
which attributes tell the two classes apart (the tables of the `failures` stage)."""

from __future__ import annotations

import argparse
import json

DEFAULT_TOP = 10


def add_failures_command(commands) -> None:
    parser = commands.add_parser("failures", help="what the model confuses, in attribute words (the build's test errors)")
    parser.add_argument("--store", default=None, help="store directory or s3://bucket/prefix (default as for build)")
    parser.add_argument("--backbone", default=None, help="backbone name (default: the latest build's)")
    parser.add_argument("--layer", default=None, help="layer (default: the latest build's)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"confusions to show, most frequent first (default: {DEFAULT_TOP})")
    parser.add_argument("--json", action="store_true", help="a JSON list: true_class, predicted_class, count, rate, sentence, attributes")


def run_failures(args: argparse.Namespace) -> int:
    from filterspeak.errors import at_least_one
    from filterspeak.storage.paths import StorePaths
    from filterspeak.tasks.graph import open_build

    at_least_one("--top", args.top)
    build = open_build(StorePaths.at(args.store), args.backbone, args.layer)
    confusions = top_confusions(build, args.top)
    if args.json:
        print(json.dumps(confusions, indent=2))
        return 0
    if not confusions:
        evaluated = build.result("failures").metrics.get("evaluated", 0)
        print(f"No test errors: {build.backbone}:{build.layer} classifies all {evaluated} test images correctly.")
        return 0
    errors = build.result("failures").metrics["errors"]
    print(f"{build.backbone}:{build.layer}: {errors} test errors; the {len(confusions)} most frequent confusions:\n")
    for item in confusions:
        print(f"- {item['sentence']}")
    return 0


def top_confusions(build, top: int) -> list[dict]:
    """The `top` most frequent confusions of a finished build (a BuildView), each with its
    sentence and ranked attributes, as `filterspeak failures --json` prints them. (Here, not in
    the stage's module: what a stage imports is part of its cache key, and the graph imports every stage.)"""
    from filterspeak.tasks.graph import require_stage

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
