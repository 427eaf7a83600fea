"""The report's HTML (filterspeak.report.pages) on a tiny hand-made `Site`: no build, so the pages'
structure (links, anchors, escaping, offline-ness) is checked in a second.

`tiny_site` is also the site the fast browser test drives (test_report_browser.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filterspeak.report import content as c
from filterspeak.report.pages import bars_svg, evaluation_svg, write_pages, write_reports_index

NASTY = "<b>bold</b> & beak"  # a phrase that must be escaped wherever it is shown
CLASSES = {0: "sparrow", 1: "crow"}
FILTER_PHRASES = {0: ["red crown", "black wing"], 2: ["black wing", NASTY], 1: ["long tail"]}  # in selectivity order
SELECTIVITY = {0: 0.9, 2: 0.7, 1: 0.5}
ATTRIBUTES = ["red crown", "black wing", NASTY, "long tail"]
DECISIONS = {7: (0, 1), 8: (1, 1)}  # image -> (true class, predicted class): 7 is an error


def _images(folder: Path, image_ids) -> None:
    """A small JPEG thumbnail per image and a 4 × 4 RGBA overlay, as the collector writes them."""
    rng = np.random.default_rng(0)
    (folder / "thumbs").mkdir(parents=True, exist_ok=True)
    (folder / "maps").mkdir(parents=True, exist_ok=True)
    for image_id in image_ids:
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / "thumbs" / f"{image_id}.jpg", quality=80)
        Image.fromarray(rng.integers(0, 255, (4, 4, 4), dtype=np.uint8), "RGBA").save(folder / "maps" / f"{image_id}.png")


def _picture(image_id: int, overlay: bool = True, caption: str = "", href: str | None = None) -> c.Picture:
    return c.Picture(f"thumbs/{image_id}.jpg", f"image {image_id}", f"maps/{image_id}.png" if overlay else None, caption, href)


def _class_link(k: int) -> c.Link:
    return c.Link(CLASSES[k], f"classes.html#{c.class_anchor(k)}")


def _attribute_bars(phrases: list[str]) -> list[c.Bar]:
    return [
        c.Bar(p, 0.5 / (i + 1), f"{0.5 / (i + 1):.3f}", f"attributes.html#{c.attribute_anchor(ATTRIBUTES.index(p))}")
        for i, p in enumerate(phrases)
    ]


def _filter_bars(filters: list[int], values: list[float]) -> list[c.Bar]:
    return [c.Bar(f"filter {f}", v, f"{v:.3g}", f"filters.html#{c.filter_anchor(f)}") for f, v in zip(filters, values)]


def tiny_site(folder: Path) -> c.Site:
    """Three filters, four attributes, two classes, two decisions (one wrong) and one confusion,
    with their pictures written under `folder`."""
    _images(folder, range(1, 10))
    overview = c.Overview(
        title="tinynet · features.3",
        facts=[c.Fact("dataset", "tiny: 9 images"), c.Fact("filters", "3"), c.Fact("vocabulary", f"{len(ATTRIBUTES)} attributes")],
        evaluation=[c.EvaluationFigure("faithfulness", 0.82, "random filters", 0.31, ">= 0.75", True)],
        evaluation_command="filterspeak evaluate --store STORE",
        example_sentences=[f"It is a crow because of its {NASTY}."],
        other_reports=[c.OtherReport("tinynet", "features.5", "../features.5/index.html")],
    )
    filters = [
        c.FilterCard(
            f,
            c.filter_anchor(f),
            SELECTIVITY[f],
            1.0 + f,
            _attribute_bars(phrases),
            [_picture(i, caption=CLASSES[i % 2]) for i in (f + 1, f + 4)],
            [c.Bar(CLASSES[f % 2], 0.4, "0.4", f"classes.html#{c.class_anchor(f % 2)}")],
        )
        for f, phrases in FILTER_PHRASES.items()
    ]
    attributes = [
        c.AttributeSection(
            a,
            c.attribute_anchor(a),
            phrase,
            3 + a,
            _filter_bars([f for f, ps in FILTER_PHRASES.items() if phrase in ps], [0.6, 0.2]),
            [_picture(7, caption="p = 0.700", href=f"decisions.html#{c.image_anchor(7)}"), _picture(2, caption="p = 0.300")],
        )
        for a, phrase in enumerate(ATTRIBUTES)
    ]
    classes = [
        c.ClassSection(
            k,
            c.class_anchor(k),
            name,
            0.5 if k == 0 else None,
            _attribute_bars(ATTRIBUTES[k : k + 2]),
            [_picture(3 + k, overlay=False)],
            _filter_bars([2, 0], [1.5, 0.7]),
        )
        for k, name in CLASSES.items()
    ]
    decisions = [
        c.DecisionCard(
            image_id,
            c.image_anchor(image_id),
            _picture(image_id, overlay=False),
            _class_link(true),
            _class_link(predicted),
            0.66,
            true == predicted,
            f"It is a {CLASSES[predicted]} because of its {NASTY}.",
            _filter_bars([2, 0, 1], [0.9, 0.3, -0.2]),
            [_picture(image_id, caption=NASTY), _picture(image_id, caption="black wing")],
        )
        for image_id, (true, predicted) in DECISIONS.items()
    ]
    confusion = c.ConfusionSection(
        c.confusion_anchor(0, 1),
        _class_link(0),
        _class_link(1),
        1,
        0.5,
        "Sparrows are taken for crows when their black wing shows.",
        [
            c.Bar("black wing", 0.4, "0.400", f"attributes.html#{c.attribute_anchor(1)}", "for_predicted"),
            c.Bar("red crown", 0.3, "0.300", f"attributes.html#{c.attribute_anchor(0)}", "missing_from_true"),
        ],
        [_picture(7, overlay=False, href=f"decisions.html#{c.image_anchor(7)}")],
        [],
    )
    return c.Site(
        overview,
        filters,
        attributes,
        classes,
        decisions,
        "all 1 test errors, then 1 of the 1 correct test decisions",
        [confusion],
        "the 1 most frequent of 1 confusions",
    )


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Elements(HTMLParser):
    """Every element of a page: (tag, attributes, the enclosing elements' (tag, attributes))."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict, list]] = []
        self.stack: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes, list(self.stack)))
        if tag not in VOID:
            self.stack.append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}, list(self.stack)))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass


def parse(path: Path) -> list[tuple[str, dict, list]]:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.elements


def has_class(attributes: dict, name: str) -> bool:
    return name in attributes.get("class", "").split()


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    write_pages(tiny_site(folder), folder)
    return folder


def test_every_page_and_static_file_is_written(tmp_path):
    written = write_pages(tiny_site(tmp_path), tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {*c.PAGES, "static/report.css", "static/report.js"}
    assert all(p.stat().st_size > 0 for p in written)


def test_every_page_links_to_every_page_and_marks_itself(site_folder):
    for page in c.PAGES:
        links = {a["href"] for tag, a, _ in parse(site_folder / page) if tag == "a" and "href" in a}
        assert set(c.PAGES) <= links, page
        current = [a["href"] for tag, a, _ in parse(site_folder / page) if tag == "a" and a.get("aria-current") == "page"]
        assert current == [page]


def test_items_are_anchored_by_stable_ids(site_folder):
    ids = {page: {a["id"] for _, a, _ in parse(site_folder / page) if "id" in a} for page in c.PAGES}
    assert {"filter-0", "filter-1", "filter-2"} <= ids["filters.html"]
    assert {f"attribute-{a}" for a in range(len(ATTRIBUTES))} <= ids["attributes.html"]
    assert {"class-0", "class-1"} <= ids["classes.html"]
    assert {"image-7", "image-8"} <= ids["decisions.html"]
    assert "confusion-0-1" in ids["failures.html"]


def test_filter_cards_carry_what_the_script_needs(site_folder):
    elements = parse(site_folder / "filters.html")
    cards = [a for tag, a, _ in elements if tag == "article" and has_class(a, "filter-card")]
    assert [a["id"] for a in cards] == ["filter-0", "filter-2", "filter-1"]  # rendered by selectivity, highest first
    assert cards[0]["data-filter"] == "0" and cards[0]["data-selectivity"] == "0.9000"
    assert cards[0]["data-phrases"] == "red crown|black wing"
    assert cards[1]["data-phrases"] == f"black wing|{NASTY}"  # unescaped once parsed: the attribute was escaped
    controls = {a.get("id"): a for tag, a, _ in elements if tag in ("input", "select")}
    assert controls["filter-search"]["type"] == "search"
    options = [a["value"] for tag, a, stack in elements if tag == "option" and any(s.get("id") == "filter-sort" for _, s in stack)]
    assert options == ["selectivity", "filter"]
    scripts = [a["src"] for tag, a, _ in elements if tag == "script"]
    assert scripts == ["static/report.js"]


def test_a_contribution_bar_links_to_its_filter_card(site_folder):
    links = [
        a["href"]
        for tag, a, stack in parse(site_folder / "decisions.html")
        if tag == "a" and has_class(a, "bar-link") and any(has_class(s, "decision-card") for _, s in stack)
    ]
    assert links[:3] == ["filters.html#filter-2", "filters.html#filter-0", "filters.html#filter-1"]
    filter_ids = {a["id"] for _, a, _ in parse(site_folder / "filters.html") if "id" in a}
    assert {link.split("#")[1] for link in links} <= filter_ids
    bars = [
        a for tag, a, stack in parse(site_folder / "decisions.html") if tag == "rect" and any(has_class(s, "bar-link") for _, s in stack)
    ]
    assert any(has_class(a, "bar") for a in bars)


def test_decisions_mark_errors(site_folder):
    cards = {a["id"]: a for tag, a, _ in parse(site_folder / "decisions.html") if tag == "article"}
    assert cards["image-7"]["data-correct"] == "false" and has_class(cards["image-7"], "error")
    assert cards["image-8"]["data-correct"] == "true" and not has_class(cards["image-8"], "error")


def test_pictures_stack_the_overlay_over_the_thumbnail(site_folder):
    elements = parse(site_folder / "filters.html")
    images = [(a, stack) for tag, a, stack in elements if tag == "img"]
    assert images and all(any(tag == "figure" and has_class(s, "picture") for tag, s in stack) for _, stack in images)
    thumbs = [a for a, _ in images if has_class(a, "thumb")]
    overlays = [a for a, _ in images if has_class(a, "overlay")]
    assert len(thumbs) == len(overlays) == 6 and all(a["alt"] == "" for a in overlays)
    for page in c.PAGES:
        for tag, a, _ in parse(site_folder / page):
            if tag == "img":
                assert (site_folder / a["src"]).is_file(), a["src"]
                assert "loading" not in a


def test_phrases_are_escaped(site_folder):
    for page in c.PAGES:
        text = (site_folder / page).read_text(encoding="utf-8")
        assert "<b>" not in text, page
    for page in ("filters.html", "attributes.html", "decisions.html", "index.html"):
        assert "&lt;b&gt;bold&lt;/b&gt; &amp;" in (site_folder / page).read_text(encoding="utf-8"), page


def test_nothing_points_off_the_machine(site_folder):
    files = [p for p in site_folder.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        assert b"http://" not in data and b"https://" not in data, path
        assert b"//cdn" not in data and b"@import" not in data, path


def test_overview_plots_evaluation_or_says_how_to_get_it(tmp_path):
    site = tiny_site(tmp_path)
    write_pages(site, tmp_path)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "evaluation-chart met" in index and "target &gt;= 0.75" in index
    assert 'href="../features.5/index.html"' in index
    for count, page in [(3, "filters.html"), (4, "attributes.html"), (2, "decisions.html")]:
        assert re.search(rf'href="{page}">[^<]+</a>: {count} ', index), page
    bare = c.Site(**{**site.__dict__, "overview": c.Overview("t", [], [], "filterspeak evaluate --store S", [])})
    write_pages(bare, tmp_path / "bare")
    assert "<code>filterspeak evaluate --store S</code>" in (tmp_path / "bare" / "index.html").read_text(encoding="utf-8")


def test_an_evaluation_figure_with_a_reference_draws_it_beside_its_baseline():
    figure = c.EvaluationFigure("Retrieval mAP", 0.35, "class prior", 0.3, ">= 0.55", False, "supervised linear probe", 0.45, 0.35 / 0.45)
    svg = str(evaluation_svg(figure))
    assert "evaluation-chart unmet" in svg and "target &gt;= 0.55 · not met" in svg
    labels = re.findall(r'class="bar-label"[^>]*>([^<]+)<', svg)
    assert labels == ["Retrieval mAP", "class prior", "supervised linear probe"]
    assert 'class="bar bar-reference"' in svg and ">0.450<" in svg
    assert 'class="bar bar-reference"' not in str(evaluation_svg(c.EvaluationFigure("x", 0.5, "random", 0.1, "", None)))


def test_bar_chart():
    svg = str(bars_svg([c.Bar("up", 2.0, "2", "filters.html#filter-1"), c.Bar("down", -1.0, "-1", kind="missing_from_true")]))
    assert svg.startswith('<svg class="bars"') and svg.count('class="bar-row"') == 2
    assert svg.count('<a class="bar-link" href="filters.html#filter-1">') == 1
    rects = re.findall(r'<rect class="(bar(?: [^"]*)?)" x="([-\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    (up_class, up_x, up_width), (down_class, down_x, down_width) = rects
    assert up_class == "bar" and down_class == "bar bar-missing_from_true bar-negative"
    assert float(down_x) + float(down_width) == pytest.approx(float(up_x), abs=0.2)  # both start at the zero line, one each way
    assert float(up_width) == pytest.approx(2 * float(down_width), abs=0.2)
    assert 'class="bar-zero"' in svg
    assert "bar-link" not in str(bars_svg([c.Bar("x", 1.0, "1")]))
    assert 'class="empty"' in str(bars_svg([], empty="nothing"))
    assert "&lt;b&gt;" in str(bars_svg([c.Bar("<b>", 1.0, "1", 'x.html#"q"')])) and "&#34;q&#34;" in str(
        bars_svg([c.Bar("a", 1.0, "1", 'x#"q"')])
    )


def test_reports_index_lists_every_report(tmp_path):
    entries = [
        c.OtherReport("resnet18", "layer4", "resnet18/layer4/index.html"),
        c.OtherReport("alexnet", "features.10", "alexnet/features.10/index.html"),
    ]
    index = write_reports_index(entries, tmp_path)
    links = [a["href"] for tag, a, _ in parse(index) if tag == "a"]
    assert links == ["alexnet/features.10/index.html", "resnet18/layer4/index.html"]
    empty = write_reports_index([], tmp_path / "empty").read_text(encoding="utf-8")
    assert "No report yet" in empty and "http" not in empty
