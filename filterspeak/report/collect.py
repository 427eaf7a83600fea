"""A build's tables → the report's content (`content.Site`) and its picture files.

The report stage (tasks/report.py) reads the tables and hands them here as frames and arrays
(`Tables`); nothing here reads the store. The images that carry an overlay are chosen first
(`Shown`): per filter its top train images by the build's response, per attribute its top test
images by p(a|x), every test error and a fixed sample of correct test decisions. Their overlays
are drawn from extraction's feature maps (never by running the network again), which the stage
streams for exactly those images (`Shown.overlaid`), each written as soon as its map is known
(`write_overlays`). Each page's content is one function: `overview` (index.html), `filter_cards`,
`attribute_sections`, `class_sections` (a few train images per class), `decision_cards` and
`confusion_sections` (failures.html).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from filterspeak.report import content as c
from filterspeak.report.pictures import Thumbnails, dimming_overlay, heat_overlay, link_or_copy, save_png

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
class Tables:
    """The tables the pages are made of, as the report stage reads them."""

    images: pd.DataFrame  # by image_id (sorted): split, class_id, path, file (where the image is, for its thumbnail)
    classes: pd.DataFrame  # class_id, name
    attributes: pd.DataFrame  # sorted by attribute_id: phrase, document_frequency (train images mentioning it)
    pdf: np.ndarray  # (F, A) p(a|f)
    weights: np.ndarray  # (A, F) p(f|a), the weights of the heat maps M_a
    stats: pd.DataFrame  # by filter: selectivity, entropy
    test: pd.DataFrame  # the test split's predictions, by image_id: true/predicted_class_id, probability, correct
    train_ids: np.ndarray  # the train split's image ids, sorted
    responses: np.ndarray  # (len(train_ids), F) the build's response s_f(x), NaN where missing
    scores: np.ndarray  # (len(test), A) p(a|x), rows in `test`'s order
    class_attributes: pd.DataFrame  # class_id, attribute_id, probability, rank
    sentences: pd.Series  # by image_id: its explanation's sentence
    cited: pd.DataFrame  # explanation_attributes: image_id, rank, attribute_id, phrase
    head: pd.DataFrame | None  # head_weights (class_id, filter, weight); None without them
    confusions: pd.DataFrame | None  # None for a build without the failures stage
    confusion_attributes: pd.DataFrame | None
    decomposition: str  # how decisions were decomposed (the predictions' metric)
    example_sentences: list[str]  # the ones the build prints

    @cached_property
    def class_names(self) -> dict[int, str]:
        return {int(k): str(v).replace("_", " ") for k, v in zip(self.classes["class_id"], self.classes["name"])}  # as sentences write them

    @cached_property
    def phrases(self) -> list[str]:
        return self.attributes["phrase"].tolist()

    @property
    def num_filters(self) -> int:
        return self.pdf.shape[0]

    def filter_label(self, f: int) -> str:
        top = int(np.argmax(self.pdf[f])) if self.pdf[f].any() else None
        return f"filter {f}" if top is None else f"filter {f} · {self.phrases[top]}"


@dataclass
class Shown:
    """Which images the pages show, chosen before any picture is made."""

    filter_tops: np.ndarray  # (F, k) train image ids each filter responds to most, largest first
    attribute_tops: np.ndarray  # (A, k) test image ids by p(a|x), largest first
    errors: np.ndarray  # every test error
    correct: np.ndarray  # every correct test decision
    sample: np.ndarray  # the fixed sample of `correct` shown
    decisions: np.ndarray  # the decisions page: errors, then the sample, each sorted (int64)
    cited: dict[int, list[tuple[int, str]]]  # decision image -> [(attribute_id, phrase)] its sentence cites, in rank order

    @classmethod
    def of(cls, tables: Tables, sizes: Sizes) -> Shown:
        train_ids, test = tables.train_ids, tables.test
        test_ids = test.index.to_numpy()
        errors = test.index[~test["correct"].to_numpy()].to_numpy()
        correct = test.index[test["correct"].to_numpy()].to_numpy()
        sample = np.random.default_rng(sizes.sample_seed).choice(correct, min(sizes.correct_decisions, len(correct)), replace=False)
        decisions = np.concatenate([np.sort(errors), np.sort(sample)]).astype(np.int64)
        cited = tables.cited[tables.cited["image_id"].isin(decisions)].sort_values(["image_id", "rank"])
        return cls(
            filter_tops=train_ids[_top(np.nan_to_num(tables.responses, nan=-np.inf), sizes.filter_images)],
            attribute_tops=test_ids[_top(tables.scores, sizes.attribute_images)],
            errors=errors,
            correct=correct,
            sample=sample,
            decisions=decisions,
            cited={int(i): list(zip(g["attribute_id"].astype(int), g["phrase"])) for i, g in cited.groupby("image_id")},
        )

    @cached_property
    def overlays(self) -> dict[int, list[tuple[str, int]]]:
        """image -> the overlays drawn over it: ("filter", f), ("attribute", a), ("decision", 0)."""
        wanted: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for f, ids in enumerate(self.filter_tops):
            for image_id in ids:
                wanted[int(image_id)].append(("filter", f))
        for a, ids in enumerate(self.attribute_tops):
            for image_id in ids:
                wanted[int(image_id)].append(("attribute", a))
        for image_id in self.decisions:
            wanted[int(image_id)].append(("decision", 0))
        return wanted

    @property
    def overlaid(self) -> np.ndarray:
        """The images whose stored maps the overlays need, sorted."""
        return np.array(sorted(self.overlays), dtype=np.int64)

    @cached_property
    def _decision_set(self) -> set[int]:
        return {int(i) for i in self.decisions}

    def decision_href(self, image_id: int) -> str | None:
        return f"decisions.html#{c.image_anchor(image_id)}" if int(image_id) in self._decision_set else None


class Pictures:
    """Thumbnails linked into the site, and the pictures that show them."""

    def __init__(self, site: Path, thumbnails: Thumbnails, images: pd.DataFrame) -> None:
        self.site, self.thumbnails, self.images = site, thumbnails, images
        self.linked: set[int] = set()

    def link(self, image_ids) -> None:
        wanted = sorted(set(int(i) for i in image_ids) - self.linked)
        files = self.images.loc[wanted, "file"].tolist()
        for image_id, cached in zip(wanted, self.thumbnails.cached(files)):
            link_or_copy(cached, self.site / THUMBS / f"{image_id}.jpg")
        self.linked.update(wanted)

    def picture(self, image_id: int, alt: str, overlay: str | None = None, caption: str = "", href: str | None = None) -> c.Picture:
        return c.Picture(f"{THUMBS}/{image_id}.jpg", alt, overlay, caption, href)


def collect(
    tables: Tables,
    shown: Shown,
    contributions: np.ndarray,
    sizes: Sizes,
    backbone: str,
    layer: str,
    dataset: str,
    site: Path,
    thumbnails: Thumbnails,
) -> c.Site:
    """The report's content; the thumbnails it shows are linked under `site` from `thumbnails`.
    `contributions`: (len(shown.decisions), F) α_f of each decision shown, in its order."""
    pictures = Pictures(site, thumbnails, tables.images)
    filters = filter_cards(tables, shown, sizes, pictures)
    attributes = attribute_sections(tables, shown, sizes, pictures)
    classes = class_sections(tables, sizes, pictures)
    decisions = decision_cards(tables, shown, contributions, sizes, pictures)
    confusions, failures_note = confusion_sections(tables, shown, sizes, pictures)
    correct, sample = len(shown.correct), len(shown.sample)
    return c.Site(
        overview=overview(tables, shown, backbone, layer, dataset),
        filters=filters,
        attributes=attributes,
        classes=classes,
        decisions=decisions,
        decisions_note=f"all {len(shown.errors)} test errors, then {sample} of the {correct} correct test decisions (a fixed sample)",
        confusions=confusions,
        failures_note=failures_note,
    )


def overview(tables: Tables, shown: Shown, backbone: str, layer: str, dataset: str) -> c.Overview:
    """index.html: what was built, how well it decides, and sentences it gives."""
    test = tables.test
    accuracy = float(test["correct"].mean()) if len(test) else float("nan")
    title = f"{backbone} · {layer}"
    images = f"{len(tables.images)} images ({len(tables.train_ids)} train, {len(test)} test)"
    return c.Overview(
        title=title,
        facts=[
            c.Fact("dataset", f"{dataset}: {images}, {len(tables.class_names)} classes"),
            c.Fact("backbone and layer", title),
            c.Fact("filters", str(tables.num_filters)),
            c.Fact("vocabulary", f"{len(tables.phrases)} attributes"),
            c.Fact("test accuracy", f"{accuracy:.3f} ({len(shown.errors)} errors)"),
            c.Fact("decisions decomposed by", tables.decomposition),
        ],
        evaluation=[],
        evaluation_command=f"filterspeak evaluate --store STORE --backbone {backbone} --layer {layer}",
        example_sentences=list(tables.example_sentences),
    )


def filter_cards(tables: Tables, shown: Shown, sizes: Sizes, pictures: Pictures) -> list[c.FilterCard]:
    """filters.html: every filter, most selective first, with its attributes, top images and classes."""
    pdf, names = tables.pdf, tables.class_names
    order = tables.stats.reindex(range(tables.num_filters)).fillna(0.0).sort_values("selectivity", ascending=False, kind="stable")
    pictures.link(shown.filter_tops.reshape(-1))
    cards = []
    for f, row in order.iterrows():
        top_attributes = np.argsort(-pdf[f], kind="stable")[: sizes.filter_attributes]
        top_attributes = [a for a in top_attributes if pdf[f, a] > 0]
        cards.append(
            c.FilterCard(
                filter_id=int(f),
                anchor=c.filter_anchor(int(f)),
                selectivity=float(row["selectivity"]),
                entropy=float(row["entropy"]),
                attributes=_bars(
                    pdf[f, top_attributes],
                    [tables.phrases[a] for a in top_attributes],
                    [f"{pdf[f, a]:.3f}" for a in top_attributes],
                    [f"attributes.html#{c.attribute_anchor(a)}" for a in top_attributes],
                ),
                pictures=[
                    pictures.picture(
                        int(i), f"image {int(i)}", f"{FILTER_MAPS}/{f}-{int(i)}.png", names.get(int(tables.images.at[i, "class_id"]), "")
                    )
                    for i in shown.filter_tops[f]
                ],
                classes=_head_bars(
                    tables, "filter", int(f), sizes.filter_classes, lambda k: (names[k], f"classes.html#{c.class_anchor(k)}")
                ),
            )
        )
    return cards


def attribute_sections(tables: Tables, shown: Shown, sizes: Sizes, pictures: Pictures) -> list[c.AttributeSection]:
    """attributes.html: every attribute with the filters that carry it and its top test images."""
    weights, frequency = tables.weights, tables.attributes["document_frequency"].to_numpy()
    pictures.link(shown.attribute_tops.reshape(-1))
    sections = []
    for a, phrase in enumerate(tables.phrases):
        carriers = [f for f in np.argsort(-weights[a], kind="stable")[: sizes.attribute_filters] if weights[a, f] > 0]
        sections.append(
            c.AttributeSection(
                attribute_id=a,
                anchor=c.attribute_anchor(a),
                phrase=phrase,
                images_with_phrase=int(frequency[a]),
                filters=_bars(
                    weights[a, carriers],
                    [tables.filter_label(f) for f in carriers],
                    [f"{weights[a, f]:.3f}" for f in carriers],
                    [f"filters.html#{c.filter_anchor(f)}" for f in carriers],
                ),
                pictures=[
                    pictures.picture(
                        int(i),
                        f"image {int(i)}",
                        f"{ATTRIBUTE_MAPS}/{a}-{int(i)}.png",
                        f"p = {tables.scores[tables.test.index.get_loc(i), a]:.3g}",
                        shown.decision_href(i),
                    )
                    for i in shown.attribute_tops[a]
                ],
            )
        )
    return sections


def class_sections(tables: Tables, sizes: Sizes, pictures: Pictures) -> list[c.ClassSection]:
    """classes.html: every class with its attributes p(a|c), example train images and head weights."""
    class_attributes = tables.class_attributes[tables.class_attributes["rank"] <= sizes.class_attributes].sort_values(["class_id", "rank"])
    by_class = {int(k): group for k, group in class_attributes.groupby("class_id")}
    train = tables.images[tables.images["split"] == "train"]
    examples = {int(k): group.index[: sizes.class_images].tolist() for k, group in train.groupby("class_id")}
    pictures.link([i for ids in examples.values() for i in ids])
    accuracy = tables.test.groupby("true_class_id")["correct"].mean()
    sections = []
    for k, name in sorted(tables.class_names.items()):
        group = by_class.get(k, pd.DataFrame(columns=["attribute_id", "probability"]))
        ids = group["attribute_id"].astype(int).tolist()
        sections.append(
            c.ClassSection(
                class_id=k,
                anchor=c.class_anchor(k),
                name=name,
                accuracy=float(accuracy[k]) if k in accuracy.index else None,
                attributes=_bars(
                    group["probability"],
                    [tables.phrases[a] for a in ids],
                    [f"{p:.3f}" for p in group["probability"]],
                    [f"attributes.html#{c.attribute_anchor(a)}" for a in ids],
                ),
                pictures=[pictures.picture(int(i), f"{name}, image {int(i)}") for i in examples.get(k, [])],
                filters=_head_bars(
                    tables, "class_id", k, sizes.class_filters, lambda f: (tables.filter_label(f), f"filters.html#{c.filter_anchor(f)}")
                ),
            )
        )
    return sections


def decision_cards(tables: Tables, shown: Shown, contributions: np.ndarray, sizes: Sizes, pictures: Pictures) -> list[c.DecisionCard]:
    """decisions.html: every error, then the sample, with its sentence, strongest filters and heat maps."""
    names = tables.class_names
    pictures.link(shown.decisions)
    cards = []
    for row, image_id in enumerate(shown.decisions):
        decided = tables.test.loc[image_id]
        true_class, predicted = int(decided["true_class_id"]), int(decided["predicted_class_id"])
        alpha = np.nan_to_num(contributions[row])
        strongest = np.argsort(-alpha, kind="stable")[: sizes.contributions]
        cards.append(
            c.DecisionCard(
                image_id=int(image_id),
                anchor=c.image_anchor(int(image_id)),
                picture=pictures.picture(int(image_id), f"test image {int(image_id)}, a {names[true_class]}"),
                true_class=c.Link(names[true_class], f"classes.html#{c.class_anchor(true_class)}"),
                predicted_class=c.Link(names[predicted], f"classes.html#{c.class_anchor(predicted)}"),
                probability=float(decided["probability"]),
                correct=bool(decided["correct"]),
                sentence=str(tables.sentences.get(image_id, "")),
                contributions=_bars(
                    alpha[strongest],
                    [tables.filter_label(int(f)) for f in strongest],
                    [f"{alpha[f]:.3g}" for f in strongest],
                    [f"filters.html#{c.filter_anchor(int(f))}" for f in strongest],
                    kind="",
                ),
                heatmaps=[
                    pictures.picture(int(image_id), f"heat map of {phrase}", f"{DECISION_MAPS}/{int(image_id)}-{rank}.png", phrase)
                    for rank, (_a, phrase) in enumerate(shown.cited.get(int(image_id), []), 1)
                ],
            )
        )
    return cards


def confusion_sections(tables: Tables, shown: Shown, sizes: Sizes, pictures: Pictures) -> tuple[list[c.ConfusionSection], str]:
    """failures.html: the most frequent confusions, the attributes that tell each pair apart and
    the errors of each direction; with the page's note."""
    if tables.confusions is None:
        return [], "This build has no failure analysis (it predates the `failures` stage): run `filterspeak build` again."
    confusions = tables.confusions.sort_values(["count", "true_class_id", "predicted_class_id"], ascending=[False, True, True])
    if confusions.empty:
        return [], "No test errors: every test image is classified correctly."
    shown_pairs = confusions.head(sizes.confusions)
    attributes = tables.confusion_attributes.sort_values(["true_class_id", "predicted_class_id", "direction", "rank"])
    by_pair = {(int(t), int(p)): g for (t, p), g in attributes.groupby(["true_class_id", "predicted_class_id"])}
    wrong = tables.test[~tables.test["correct"].to_numpy()]
    names = tables.class_names

    def errors_of(t: int, p: int) -> list[int]:
        chosen = wrong[(wrong["true_class_id"] == t) & (wrong["predicted_class_id"] == p)]
        return [int(i) for i in chosen.index[: sizes.confusion_images]]

    sections = []
    for row in shown_pairs.itertuples():
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
                    pictures.picture(i, f"test image {i}, a {names[t]} taken for a {names[p]}", href=shown.decision_href(i))
                    for i in this_way
                ],
                reverse=[
                    pictures.picture(i, f"test image {i}, a {names[p]} taken for a {names[t]}", href=shown.decision_href(i))
                    for i in other_way
                ],
            )
        )
    note = f"the {len(shown_pairs)} most frequent of {len(confusions)} confusions ({len(wrong)} test errors)"
    return sections, note


def write_overlays(site: Path, tables: Tables, shown: Shown, maps: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
    """Every overlay of the shown images under `site`, from `maps`: (image ids, (n, F, H, W) maps)
    of the images in `shown.overlaid`, a batch at a time (any others are skipped)."""
    peaks = np.nan_to_num(tables.responses.max(axis=0, initial=0.0))  # a filter's strongest train response
    weights, wanted = tables.weights, shown.overlays
    for ids, batch in maps:
        for image_id, image_maps in zip(ids, batch):
            for what, index in wanted.get(int(image_id), []):
                if what == "filter":
                    save_png(dimming_overlay(image_maps[index], peaks[index]), site / FILTER_MAPS / f"{index}-{image_id}.png")
                elif what == "attribute":
                    save_png(
                        heat_overlay(np.tensordot(weights[index], image_maps, axes=1)), site / ATTRIBUTE_MAPS / f"{index}-{image_id}.png"
                    )
                else:
                    for rank, (a, _phrase) in enumerate(shown.cited.get(int(image_id), []), 1):
                        save_png(
                            heat_overlay(np.tensordot(weights[a], image_maps, axes=1)), site / DECISION_MAPS / f"{image_id}-{rank}.png"
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


def _head_bars(tables: Tables, by: str, value: int, top: int, name_and_href) -> list[c.Bar]:
    """The head's largest positive weights on a filter (by class) or of a class (by filter)."""
    if tables.head is None:
        return []
    other = "class_id" if by == "filter" else "filter"
    rows = tables.head[tables.head[by] == value]
    rows = rows[rows["weight"] > 0].sort_values("weight", ascending=False, kind="stable").head(top)
    labelled = [name_and_href(int(k)) for k in rows[other]]
    return _bars(rows["weight"], [n for n, _ in labelled], [f"{w:.3g}" for w in rows["weight"]], [h for _, h in labelled])
