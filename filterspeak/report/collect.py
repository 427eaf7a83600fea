"""A build's tables → the report's content (`content.Site`) and its picture files.

Which images are shown: per filter its top train images by the build's response; per attribute
its top test images by p(a|x); every test error and a fixed sample of correct test decisions;
a few train images per class. Their feature maps come from extraction's `feature_maps` (never
from running the network again), streamed: only the maps of the shown images are decoded, one
batch at a time, and each overlay is written as soon as its map is known.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterspeak.backbones.stored_maps import dequantise
from filterspeak.report import content as c
from filterspeak.report.pictures import Thumbnails, dimming_overlay, heat_overlay, link_or_copy, save_png
from filterspeak.tasks.readers import attribute_map_weights, attribute_score_matrix, filter_attribute_pdf, response_matrix, split_ids

THUMBS, FILTER_MAPS, ATTRIBUTE_MAPS, DECISION_MAPS = "img/t", "img/f", "img/a", "img/d"


@dataclass(frozen=True)
class Sizes:
    """How much each page shows (the report stage's parameters)."""

    filter_images: int = 4
    filter_attributes: int = 5
    filter_classes: int = 3
    attribute_images: int = 4
    attribute_filters: int = 5
    class_images: int = 4
    class_attributes: int = 6
    class_filters: int = 5
    correct_decisions: int = 24  # correct test decisions shown beside every error (a fixed sample)
    contributions: int = 6
    confusions: int = 60  # the most frequent confusions
    confusion_images: int = 4
    sample_seed: int = 0


@dataclass
class _Build:
    """The tables the pages are made of, read once."""

    images: pd.DataFrame  # by image_id: split, class_id, path
    class_names: dict[int, str]
    phrases: list[str]
    frequency: np.ndarray  # (A,) train images mentioning each attribute
    pdf: np.ndarray  # (F, A) p(a|f)
    weights: np.ndarray  # (A, F) p(f|a)
    stats: pd.DataFrame  # by filter: selectivity, entropy
    predictions: pd.DataFrame  # test, by image_id
    head: pd.DataFrame | None  # class_id, filter, weight

    @property
    def num_filters(self) -> int:
        return self.pdf.shape[0]

    def filter_label(self, f: int) -> str:
        top = int(np.argmax(self.pdf[f])) if self.pdf[f].any() else None
        return f"filter {f}" if top is None else f"filter {f} · {self.phrases[top]}"


def _read(inputs, response_name: str) -> _Build:
    images = inputs.read("images", ["image_id", "split", "class_id", "path"]).set_index("image_id").sort_index()
    classes = inputs.read("classes", ["class_id", "name"])
    attributes = inputs.read("attributes", ["attribute_id", "phrase", "document_frequency"]).sort_values("attribute_id")
    num_filters = int(inputs.metrics("filter_responses")["filters"])
    pdf = filter_attribute_pdf(inputs, num_filters, len(attributes))
    predictions = inputs.read("predictions").set_index("image_id")
    head = inputs.read("head_weights") if "head_weights" in inputs.producers else None
    return _Build(
        images=images,
        class_names={int(k): str(v).replace("_", " ") for k, v in zip(classes["class_id"], classes["name"])},  # as sentences write them
        phrases=attributes["phrase"].tolist(),
        frequency=attributes["document_frequency"].to_numpy(),
        pdf=pdf,
        weights=attribute_map_weights(inputs, pdf, response_name),
        stats=inputs.read("filter_stats", ["filter", "selectivity", "entropy"]).set_index("filter"),
        predictions=predictions.loc[predictions.index.intersection(split_ids(inputs, "test"))],
        head=head,
    )


def _top(matrix: np.ndarray, k: int) -> np.ndarray:
    """(columns, ≤k) row positions of each column's k largest values, largest first."""
    k = min(k, matrix.shape[0])
    if k == 0:
        return np.zeros((matrix.shape[1], 0), dtype=np.intp)
    part = np.argpartition(-matrix, k - 1, axis=0)[:k].T
    order = np.take_along_axis(-matrix.T, part, axis=1).argsort(axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _bars(values, labels, texts, hrefs, kind: str = "") -> list[c.Bar]:
    return [c.Bar(label, float(v), text, href, kind) for v, label, text, href in zip(values, labels, texts, hrefs)]


class _Pictures:
    """Thumbnails linked into the site, and the overlays written so far."""

    def __init__(self, site: Path, thumbnails: Thumbnails, inputs, images: pd.DataFrame) -> None:
        self.site, self.thumbnails, self.inputs, self.images = site, thumbnails, inputs, images
        self.linked: set[int] = set()

    def link(self, image_ids) -> None:
        wanted = sorted(set(int(i) for i in image_ids) - self.linked)
        files = self.inputs.located("images", self.images.loc[wanted, "path"].tolist())
        for image_id, cached in zip(wanted, self.thumbnails.cached(files)):
            link_or_copy(cached, self.site / THUMBS / f"{image_id}.jpg")
        self.linked.update(wanted)

    def picture(self, image_id: int, alt: str, overlay: str | None = None, caption: str = "", href: str | None = None) -> c.Picture:
        return c.Picture(f"{THUMBS}/{image_id}.jpg", alt, overlay, caption, href)


def collect(
    inputs, sizes: Sizes, response_name: str, backbone: str, layer: str, dataset: str, site: Path, thumbnails: Thumbnails
) -> c.Site:
    """The report's content; its pictures are written under `site` (thumbnails linked from `thumbnails`)."""
    build = _read(inputs, response_name)
    pictures = _Pictures(site, thumbnails, inputs, build.images)
    names = build.class_names
    test = build.predictions

    # which images each page shows
    train_ids = split_ids(inputs, "train")
    responses = response_matrix(inputs, "filter_responses", _response_column(response_name), train_ids)
    filter_tops = train_ids[_top(np.nan_to_num(responses, nan=-np.inf), sizes.filter_images)]  # (F, k)
    filter_peaks = np.nan_to_num(responses.max(axis=0, initial=0.0))
    test_ids = test.index.to_numpy()
    scores = attribute_score_matrix(inputs, test_ids, len(build.phrases))
    attribute_tops = test_ids[_top(scores, sizes.attribute_images)]  # (A, k)
    errors = test.index[~test["correct"].to_numpy()].to_numpy()
    correct = test.index[test["correct"].to_numpy()].to_numpy()
    sample = np.random.default_rng(sizes.sample_seed).choice(correct, min(sizes.correct_decisions, len(correct)), replace=False)
    decision_ids = np.concatenate([np.sort(errors), np.sort(sample)]).astype(np.int64)
    cited = _cited(inputs, decision_ids)

    # the overlays: one stream over the stored maps of the images shown with one
    wanted: dict[int, list[tuple[str, int]]] = defaultdict(list)  # image -> (what, index)
    for f, ids in enumerate(filter_tops):
        for image_id in ids:
            wanted[int(image_id)].append(("filter", f))
    for a, ids in enumerate(attribute_tops):
        for image_id in ids:
            wanted[int(image_id)].append(("attribute", a))
    for image_id in decision_ids:
        wanted[int(image_id)].append(("decision", 0))
    _write_overlays(inputs, site, wanted, build.weights, filter_peaks, cited)

    decision_set = set(int(i) for i in decision_ids)

    def decision_href(image_id: int) -> str | None:
        return f"decisions.html#{c.image_anchor(image_id)}" if int(image_id) in decision_set else None

    # filters
    order = build.stats.reindex(range(build.num_filters)).fillna(0.0).sort_values("selectivity", ascending=False, kind="stable")
    pictures.link(filter_tops.reshape(-1))
    filters = []
    for f, row in order.iterrows():
        top_attributes = np.argsort(-build.pdf[f], kind="stable")[: sizes.filter_attributes]
        top_attributes = [a for a in top_attributes if build.pdf[f, a] > 0]
        filters.append(
            c.FilterCard(
                filter_id=int(f),
                anchor=c.filter_anchor(int(f)),
                selectivity=float(row["selectivity"]),
                entropy=float(row["entropy"]),
                attributes=_bars(
                    build.pdf[f, top_attributes],
                    [build.phrases[a] for a in top_attributes],
                    [f"{build.pdf[f, a]:.3f}" for a in top_attributes],
                    [f"attributes.html#{c.attribute_anchor(a)}" for a in top_attributes],
                ),
                pictures=[
                    pictures.picture(
                        int(i), f"image {int(i)}", f"{FILTER_MAPS}/{f}-{int(i)}.png", names.get(int(build.images.at[i, "class_id"]), "")
                    )
                    for i in filter_tops[f]
                ],
                classes=_head_bars(
                    build, "filter", int(f), sizes.filter_classes, lambda k: (names[k], f"classes.html#{c.class_anchor(k)}")
                ),
            )
        )

    # attributes
    pictures.link(attribute_tops.reshape(-1))
    attributes = []
    for a, phrase in enumerate(build.phrases):
        carriers = [f for f in np.argsort(-build.weights[a], kind="stable")[: sizes.attribute_filters] if build.weights[a, f] > 0]
        attributes.append(
            c.AttributeSection(
                attribute_id=a,
                anchor=c.attribute_anchor(a),
                phrase=phrase,
                images_with_phrase=int(build.frequency[a]),
                filters=_bars(
                    build.weights[a, carriers],
                    [build.filter_label(f) for f in carriers],
                    [f"{build.weights[a, f]:.3f}" for f in carriers],
                    [f"filters.html#{c.filter_anchor(f)}" for f in carriers],
                ),
                pictures=[
                    pictures.picture(
                        int(i),
                        f"image {int(i)}",
                        f"{ATTRIBUTE_MAPS}/{a}-{int(i)}.png",
                        f"p = {scores[test.index.get_loc(i), a]:.3g}",
                        decision_href(i),
                    )
                    for i in attribute_tops[a]
                ],
            )
        )

    # classes
    class_attributes = inputs.read("class_attributes", ["class_id", "attribute_id", "probability", "rank"])
    class_attributes = class_attributes[class_attributes["rank"] <= sizes.class_attributes].sort_values(["class_id", "rank"])
    by_class = {int(k): group for k, group in class_attributes.groupby("class_id")}
    train = build.images[build.images["split"] == "train"]
    examples = {int(k): group.index[: sizes.class_images].tolist() for k, group in train.groupby("class_id")}
    pictures.link([i for ids in examples.values() for i in ids])
    accuracy = test.groupby("true_class_id")["correct"].mean()
    classes = []
    for k, name in sorted(names.items()):
        group = by_class.get(k, pd.DataFrame(columns=["attribute_id", "probability"]))
        ids = group["attribute_id"].astype(int).tolist()
        classes.append(
            c.ClassSection(
                class_id=k,
                anchor=c.class_anchor(k),
                name=name,
                accuracy=float(accuracy[k]) if k in accuracy.index else None,
                attributes=_bars(
                    group["probability"],
                    [build.phrases[a] for a in ids],
                    [f"{p:.3f}" for p in group["probability"]],
                    [f"attributes.html#{c.attribute_anchor(a)}" for a in ids],
                ),
                pictures=[pictures.picture(int(i), f"{name}, image {int(i)}") for i in examples.get(k, [])],
                filters=_head_bars(
                    build, "class_id", k, sizes.class_filters, lambda f: (build.filter_label(f), f"filters.html#{c.filter_anchor(f)}")
                ),
            )
        )

    # decisions
    pictures.link(decision_ids)
    sentences = inputs.read("explanations", ["image_id", "sentence"]).set_index("image_id")["sentence"]
    contributions = response_matrix(inputs, "filter_contributions", "contribution", decision_ids)
    decisions = []
    for row, image_id in enumerate(decision_ids):
        decided = test.loc[image_id]
        true_class, predicted = int(decided["true_class_id"]), int(decided["predicted_class_id"])
        alpha = np.nan_to_num(contributions[row])
        strongest = np.argsort(-alpha, kind="stable")[: sizes.contributions]
        decisions.append(
            c.DecisionCard(
                image_id=int(image_id),
                anchor=c.image_anchor(int(image_id)),
                picture=pictures.picture(int(image_id), f"test image {int(image_id)}, a {names[true_class]}"),
                true_class=c.Link(names[true_class], f"classes.html#{c.class_anchor(true_class)}"),
                predicted_class=c.Link(names[predicted], f"classes.html#{c.class_anchor(predicted)}"),
                probability=float(decided["probability"]),
                correct=bool(decided["correct"]),
                sentence=str(sentences.get(image_id, "")),
                contributions=_bars(
                    alpha[strongest],
                    [build.filter_label(int(f)) for f in strongest],
                    [f"{alpha[f]:.3g}" for f in strongest],
                    [f"filters.html#{c.filter_anchor(int(f))}" for f in strongest],
                    kind="",
                ),
                heatmaps=[
                    pictures.picture(int(image_id), f"heat map of {phrase}", f"{DECISION_MAPS}/{int(image_id)}-{rank}.png", phrase)
                    for rank, (_a, phrase) in enumerate(cited.get(int(image_id), []), 1)
                ],
            )
        )

    confusions, failures_note = _confusions(inputs, build, test, sizes, pictures, decision_href)
    accuracy_all = float(test["correct"].mean()) if len(test) else float("nan")
    title = f"{backbone} · {layer}"
    overview = c.Overview(
        title=title,
        facts=[
            c.Fact("dataset", f"{dataset}: {len(build.images)} images ({len(train_ids)} train, {len(test)} test), {len(names)} classes"),
            c.Fact("backbone and layer", title),
            c.Fact("filters", str(build.num_filters)),
            c.Fact("vocabulary", f"{len(build.phrases)} attributes"),
            c.Fact("test accuracy", f"{accuracy_all:.3f} ({len(errors)} errors)"),
            c.Fact("decisions decomposed by", str(inputs.metrics("predictions").get("decomposition", ""))),
        ],
        evaluation=[],
        evaluation_command=f"filterspeak evaluate --store STORE --backbone {backbone} --layer {layer}",
        example_sentences=list(inputs.metrics("explanations").get("examples", [])),  # the ones the build prints
    )
    return c.Site(
        overview=overview,
        filters=filters,
        attributes=attributes,
        classes=classes,
        decisions=decisions,
        decisions_note=f"all {len(errors)} test errors, then {len(sample)} of the {len(correct)} correct test decisions (a fixed sample)",
        confusions=confusions,
        failures_note=failures_note,
    )


def _response_column(name: str) -> str:
    from filterspeak.interpret.responses import response

    return response(name).column


def _cited(inputs, image_ids: np.ndarray) -> dict[int, list[tuple[int, str]]]:
    """image -> [(attribute_id, phrase)] its sentence cites, in rank order."""
    cited = inputs.read("explanation_attributes", ["image_id", "rank", "attribute_id", "phrase"])
    cited = cited[cited["image_id"].isin(image_ids)].sort_values(["image_id", "rank"])
    return {int(i): list(zip(g["attribute_id"].astype(int), g["phrase"])) for i, g in cited.groupby("image_id")}


def _head_bars(build: _Build, by: str, value: int, top: int, name_and_href) -> list[c.Bar]:
    """The head's largest positive weights on a filter (by class) or of a class (by filter)."""
    if build.head is None:
        return []
    other = "class_id" if by == "filter" else "filter"
    rows = build.head[build.head[by] == value]
    rows = rows[rows["weight"] > 0].sort_values("weight", ascending=False, kind="stable").head(top)
    labelled = [name_and_href(int(k)) for k in rows[other]]
    return _bars(rows["weight"], [n for n, _ in labelled], [f"{w:.3g}" for w in rows["weight"]], [h for _, h in labelled])


def _write_overlays(inputs, site: Path, wanted, weights: np.ndarray, peaks: np.ndarray, cited) -> None:
    """Every overlay of the shown images, from their stored maps, batch by batch."""
    for batch in inputs.batches("feature_maps", rows=256):
        ids = batch.column("image_id").to_numpy()
        keep = np.flatnonzero(np.isin(ids, list(wanted)))
        if not len(keep):
            continue
        maps = dequantise(batch.take(keep))
        for image_id, image_maps in zip(ids[keep], maps):
            for what, index in wanted[int(image_id)]:
                if what == "filter":
                    save_png(dimming_overlay(image_maps[index], peaks[index]), site / FILTER_MAPS / f"{index}-{image_id}.png")
                elif what == "attribute":
                    save_png(
                        heat_overlay(np.tensordot(weights[index], image_maps, axes=1)), site / ATTRIBUTE_MAPS / f"{index}-{image_id}.png"
                    )
                else:
                    for rank, (a, _phrase) in enumerate(cited.get(int(image_id), []), 1):
                        save_png(
                            heat_overlay(np.tensordot(weights[a], image_maps, axes=1)), site / DECISION_MAPS / f"{image_id}-{rank}.png"
                        )


def _confusions(inputs, build: _Build, test: pd.DataFrame, sizes: Sizes, pictures: _Pictures, decision_href):
    if "confusions" not in inputs.producers:
        return [], "This build has no failure analysis (it predates the `failures` stage): run `filterspeak build` again."
    confusions = inputs.read("confusions").sort_values(["count", "true_class_id", "predicted_class_id"], ascending=[False, True, True])
    if confusions.empty:
        return [], "No test errors: every test image is classified correctly."
    shown = confusions.head(sizes.confusions)
    attributes = inputs.read("confusion_attributes").sort_values(["true_class_id", "predicted_class_id", "direction", "rank"])
    by_pair = {(int(t), int(p)): g for (t, p), g in attributes.groupby(["true_class_id", "predicted_class_id"])}
    wrong = test[~test["correct"].to_numpy()]
    names = build.class_names

    def errors_of(t: int, p: int) -> list[int]:
        chosen = wrong[(wrong["true_class_id"] == t) & (wrong["predicted_class_id"] == p)]
        return [int(i) for i in chosen.index[: sizes.confusion_images]]

    sections = []
    for row in shown.itertuples():
        t, p = int(row.true_class_id), int(row.predicted_class_id)
        group = by_pair.get((t, p), pd.DataFrame(columns=["attribute_id", "phrase", "score", "direction"]))
        this_way, other_way = errors_of(t, p), errors_of(p, t)
        pictures.link(this_way + other_way)
        sections.append(
            c.ConfusionSection(
                anchor=c.confusion_anchor(t, p),
                true_class=c.Link(names[t], f"classes.html#{c.class_anchor(t)}"),
                predicted_class=c.Link(names[p], f"classes.html#{c.class_anchor(p)}"),
                count=int(row.count),
                rate=float(row.rate),
                sentence=str(row.sentence),
                attributes=[
                    c.Bar(
                        str(r.phrase),
                        float(r.score),
                        f"{r.score:.3g}",
                        f"attributes.html#{c.attribute_anchor(int(r.attribute_id))}",
                        str(r.direction),
                    )
                    for r in group.itertuples()
                ],
                errors=[
                    pictures.picture(i, f"test image {i}, a {names[t]} taken for a {names[p]}", href=decision_href(i)) for i in this_way
                ],
                reverse=[
                    pictures.picture(i, f"test image {i}, a {names[p]} taken for a {names[t]}", href=decision_href(i)) for i in other_way
                ],
            )
        )
    note = f"the {len(shown)} most frequent of {len(confusions)} confusions ({len(wrong)} test errors)"
    return sections, note
