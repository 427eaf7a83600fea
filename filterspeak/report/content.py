"""What the report shows, as plain data: the pages' content, computed from a build
(`filterspeak.report.collect`) and turned into HTML by `filterspeak.report.pages`.

Paths are relative to the site's root folder (`index.html` sits there); every page lives in that
folder too, so a page links to another as "filters.html#filter-12". Pictures are the image as the
network saw it (a thumbnail, shared by every page and every rebuild) with an optional small RGBA
overlay (a feature map or heat map at the layer's resolution) that the page stretches over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The pages, in navigation order: file name -> title.
PAGES = {
    "index.html": "Overview",
    "filters.html": "Filters",
    "attributes.html": "Attributes",
    "classes.html": "Classes",
    "decisions.html": "Decisions",
    "failures.html": "Failures",
}


def filter_anchor(filter_id: int) -> str:
    return f"filter-{filter_id}"


def attribute_anchor(attribute_id: int) -> str:
    return f"attribute-{attribute_id}"


def class_anchor(class_id: int) -> str:
    return f"class-{class_id}"


def image_anchor(image_id: int) -> str:
    return f"image-{image_id}"


def confusion_anchor(true_class_id: int, predicted_class_id: int) -> str:
    return f"confusion-{true_class_id}-{predicted_class_id}"


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Bar:
    """One bar of a bar chart: its length is `value` relative to the chart's largest |value|."""

    label: str
    value: float
    text: str  # the value as printed beside the bar
    href: str | None = None  # where the bar (and its label) links
    kind: str = ""  # a style: "" (default), "baseline", "for_predicted", "missing_from_true", "negative"


@dataclass(frozen=True)
class Picture:
    thumbnail: str  # site-relative path of the image as the network saw it (square)
    alt: str
    overlay: str | None = None  # site-relative path of an RGBA PNG stretched over the thumbnail
    caption: str = ""
    href: str | None = None  # where clicking the picture goes


@dataclass(frozen=True)
class Fact:
    name: str
    value: str


@dataclass(frozen=True)
class EvaluationFigure:
    """One metric of `filterspeak evaluate`, plotted against its baseline."""

    name: str
    value: float
    baseline_name: str
    baseline: float | None
    target: str  # e.g. ">= 0.75", "" when none
    met: bool | None
    reference_name: str = ""  # the supervised reading of the same layer the target is judged against
    reference: float | None = None
    reference_ratio: float | None = None


@dataclass(frozen=True)
class OtherReport:
    """Another (backbone, layer) of the same store, with its own report."""

    backbone: str
    layer: str
    href: str  # relative to this site's root


@dataclass(frozen=True)
class Overview:
    title: str  # e.g. "squeezenet1_0-8a853df1 · features.12"
    facts: list[Fact]  # dataset, backbone, layer, accuracy, vocabulary, ...
    evaluation: list[EvaluationFigure]  # empty when the store has no evaluation of this build
    evaluation_command: str  # how to get the figures ("filterspeak evaluate --store ...")
    example_sentences: list[str]
    other_reports: list[OtherReport] = field(default_factory=list)


@dataclass(frozen=True)
class FilterCard:
    filter_id: int
    anchor: str  # filter_anchor(filter_id)
    selectivity: float
    entropy: float
    attributes: list[Bar]  # top p(a|f), href to the attribute's section
    pictures: list[Picture]  # top-activating train images, overlay dims where the filter does not fire
    classes: list[Bar]  # the classes whose head weight on this filter is largest, href to the class


@dataclass(frozen=True)
class AttributeSection:
    attribute_id: int
    anchor: str
    phrase: str
    images_with_phrase: int  # train images whose captions mention it
    filters: list[Bar]  # filters carrying it (p(f|a)), href to the filter's card
    pictures: list[Picture]  # top images by p(a|x), overlay = M_a heat map


@dataclass(frozen=True)
class ClassSection:
    class_id: int
    anchor: str
    name: str
    accuracy: float | None  # on the test split, None when it has no test image
    attributes: list[Bar]  # p(a|c), href to the attribute
    pictures: list[Picture]  # example train images (no overlay)
    filters: list[Bar]  # the head's largest weights for this class, href to the filter's card


@dataclass(frozen=True)
class DecisionCard:
    image_id: int
    anchor: str  # image_anchor(image_id)
    picture: Picture
    true_class: Link
    predicted_class: Link
    probability: float
    correct: bool
    sentence: str
    contributions: list[Bar]  # top α_f, href to the filter's card (filters.html#filter-N)
    heatmaps: list[Picture]  # one per cited attribute, overlay = M_a, caption = the phrase


@dataclass(frozen=True)
class ConfusionSection:
    anchor: str  # confusion_anchor(true class id, predicted class id)
    true_class: Link
    predicted_class: Link
    count: int
    rate: float
    sentence: str
    attributes: list[Bar]  # kind "for_predicted" or "missing_from_true", href to the attribute
    errors: list[Picture]  # images of the true class taken for the predicted one (href: their decision)
    reverse: list[Picture]  # images of the predicted class taken for the true one, if any


@dataclass(frozen=True)
class Site:
    """Everything the six pages show."""

    overview: Overview
    filters: list[FilterCard]
    attributes: list[AttributeSection]
    classes: list[ClassSection]
    decisions: list[DecisionCard]  # all test errors first, then a fixed sample of correct ones
    decisions_note: str  # e.g. "all 12 test errors and 24 of 588 correct decisions"
    confusions: list[ConfusionSection]
    failures_note: str  # why the failures page is empty, or what it lists
