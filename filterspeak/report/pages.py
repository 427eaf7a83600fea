"""The report's HTML: the six pages of a `Site` (filterspeak.report.content) rendered with Jinja2,
their charts as inline SVG, and the static CSS and script they share.

Charts are drawn here, in Python, rather than by a script in the page: a page of 500 filter cards
then shows every bar as soon as it is parsed, works without JavaScript, and needs no library.
"""

from __future__ import annotations

import math
import re
import shutil
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from filterspeak.report.content import PAGES, Bar, EvaluationFigure, OtherReport, Site

HERE = Path(__file__).parent
STATIC = ("report.css", "report.js")  # copied to <site>/static/

# bar chart geometry, in CSS pixels
ROW = 18  # one bar's row height
LABEL = 170  # the labels' column width
BAR = 170  # the bars' column width
VALUE = 52  # the value texts' column width
CHAR = 6.0  # the average width of a character of the chart's 11px font: a label is cut to fit its column


@cache
def environment() -> Environment:
    """One Jinja environment per process: templates are compiled once, however many reports."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined
    )
    env.filters["bars_svg"] = bars_svg
    env.globals.update(bars_svg=bars_svg, evaluation_svg=evaluation_svg, phrases_of=phrases_of, PAGES=PAGES)
    return env


def write_pages(site: Site, folder: Path) -> list[Path]:
    """The six pages of `PAGES` and their static files under `folder`; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    env = environment()
    written = []
    for page in PAGES:
        target = folder / page
        target.write_text(env.get_template(page).render(site=site, page=page), encoding="utf-8")
        written.append(target)
    (folder / "static").mkdir(exist_ok=True)
    for name in STATIC:
        target = folder / "static" / name
        shutil.copyfile(HERE / "static" / name, target)
        written.append(target)
    return written


EVALUATION = ("<!--evaluation-->", "<!--/evaluation-->")  # where index.html's evaluation section sits


def with_evaluation(index_html: str, figures: list[EvaluationFigure], command: str) -> str:
    """`index_html` with its evaluation section drawn again from `figures`: how a published report
    shows the store's latest evaluation of its build without rebuilding the report."""
    start, end = (index_html.index(marker) for marker in EVALUATION)
    section = environment().get_template("evaluation.html").render(o={"evaluation": figures, "evaluation_command": command})
    return index_html[: start + len(EVALUATION[0])] + section + index_html[end:]


def write_reports_index(entries: list[OtherReport], folder: Path) -> Path:
    """`folder/index.html`: a link to each (backbone, layer) report of one store."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "index.html"
    ordered = sorted(entries, key=lambda e: (e.backbone, e.layer))
    target.write_text(environment().get_template("reports_index.html").render(entries=ordered), encoding="utf-8")
    return target


def phrases_of(bars: list[Bar]) -> str:
    """A filter card's `data-phrases`: what the search box matches, lowercase, "|"-separated."""
    return "|".join(bar.label.lower() for bar in bars)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _cut(text: str, width: float) -> str:
    """`text` cut with an ellipsis so it fits `width` pixels (an estimate: the chart's font is small)."""
    fits = max(int(width / CHAR), 2)
    return text if len(text) <= fits else text[: fits - 1].rstrip() + "…"


def _kind_classes(bar: Bar) -> str:
    classes = ["bar"]
    kind = re.sub(r"[^a-z0-9_-]", "", bar.kind.lower())
    if kind:
        classes.append(f"bar-{kind}")
    if bar.value < 0 and "bar-negative" not in classes:
        classes.append("bar-negative")
    return " ".join(classes)


def bars_svg(bars: list[Bar], label_width: int = LABEL, bar_width: int = BAR, value_width: int = VALUE, empty: str = "none") -> Markup:
    """A horizontal bar chart as inline SVG: per row a label, a bar and its value text. Bars share
    one scale (the largest |value|); negative ones grow leftwards from a zero line. A bar with an
    `href` is a link over its whole row (label, bar and value), so it is easy to hit."""
    if not bars:
        return Markup('<p class="empty">{}</p>').format(empty)
    values = [0.0 if math.isnan(b.value) else b.value for b in bars]
    most, least = max(max(values), 0.0), min(min(values), 0.0)
    span = (most - least) or 1.0
    zero = label_width + bar_width * (-least / span)
    width, height = label_width + bar_width + value_width, ROW * len(bars)
    rows = []
    for row, (bar, value) in enumerate(zip(bars, values)):
        y = row * ROW
        length = abs(value) / span * bar_width
        if value != 0:
            length = max(length, 1.0)  # a tiny value still shows
        x = zero - length if value < 0 else zero
        shown = _cut(bar.label, label_width - 8)
        parts = [
            Markup('<rect class="bar-hit" x="0" y="{}" width="{}" height="{}"></rect>').format(y, width, ROW) if bar.href else "",
            Markup("<title>{}</title>").format(bar.label) if shown != bar.label else "",  # the whole label, on hover
            Markup('<text class="bar-label" x="{}" y="{}">{}</text>').format(label_width - 6, _number(y + ROW * 0.7), shown),
            Markup('<rect class="{}" x="{}" y="{}" width="{}" height="{}"></rect>').format(
                _kind_classes(bar), _number(x), y + 3, _number(length), ROW - 6
            ),
            Markup('<text class="bar-value" x="{}" y="{}">{}</text>').format(label_width + bar_width + 4, _number(y + ROW * 0.7), bar.text),
        ]
        inner = Markup("").join(parts)
        if bar.href:
            inner = Markup('<a class="bar-link" href="{}">{}</a>').format(bar.href, inner)
        rows.append(Markup('<g class="bar-row">{}</g>').format(inner))
    axis = Markup('<line class="bar-zero" x1="{0}" x2="{0}" y1="0" y2="{1}"></line>').format(_number(zero), height) if least < 0 else ""
    return Markup('<svg class="bars" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="group">{2}{3}</svg>').format(
        width, height, Markup("").join(rows), axis
    )


def _target_value(target: str) -> float | None:
    """The number in a target such as ">= 0.75", to draw it as a line."""
    found = re.search(r"-?\d+(?:\.\d+)?", target)
    return float(found.group()) if found else None


def evaluation_svg(figure: EvaluationFigure, bar_width: int = 220) -> Markup:
    """One evaluation metric: its bar beside its baseline's bar, the target as a dashed line and
    as text. Metrics within [0, 1] are drawn on [0, 1], so figures compare at a glance."""
    bars = [Bar(figure.name, figure.value, f"{figure.value:.3f}", kind="value")]
    if figure.baseline is not None:
        bars.append(Bar(figure.baseline_name, figure.baseline, f"{figure.baseline:.3f}", kind="baseline"))
    if figure.reference is not None:
        bars.append(Bar(figure.reference_name, figure.reference, f"{figure.reference:.3f}", kind="reference"))
    target = _target_value(figure.target) if figure.target else None
    values = [abs(b.value) for b in bars if not math.isnan(b.value)] + ([abs(target)] if target is not None else [])
    scale = max([*values, 1.0]) if any(v > 1 for v in values) else 1.0
    label, value_width = 150, 52
    rows = []
    for row, bar in enumerate(bars):
        y = row * ROW
        length = 0.0 if math.isnan(bar.value) else max(bar.value, 0.0) / scale * bar_width
        rows.append(
            Markup(
                '<text class="bar-label" x="{0}" y="{1}">{2}</text>'
                '<rect class="bar bar-{3}" x="{4}" y="{5}" width="{6}" height="{7}"></rect>'
                '<text class="bar-value" x="{8}" y="{1}">{9}</text>'
            ).format(
                label - 6,
                _number(y + ROW * 0.7),
                _cut(bar.label, label - 8),
                bar.kind,
                label,
                y + 3,
                _number(length),
                ROW - 6,
                label + bar_width + 4,
                bar.text,
            )
        )
    height = ROW * len(bars)
    if target is not None:
        x = label + max(min(target / scale, 1.0), 0.0) * bar_width
        rows.append(Markup('<line class="target" x1="{0}" x2="{0}" y1="0" y2="{1}"></line>').format(_number(x), height))
    verdict = {True: "met", False: "not met", None: ""}[figure.met]
    text = " · ".join(t for t in (f"target {figure.target}" if figure.target else "", verdict) if t)
    state = {True: "met", False: "unmet", None: "unknown"}[figure.met]
    rows.append(Markup('<text class="target-text" x="{}" y="{}">{}</text>').format(label, height + 13, text))
    width = label + bar_width + value_width
    return Markup(
        '<svg class="evaluation-chart {0}" width="{1}" height="{2}" viewBox="0 0 {1} {2}" role="img" aria-label="{3}">{4}</svg>'
    ).format(state, width, height + 18, f"{figure.name}: {figure.value:.3f}", Markup("").join(rows))
