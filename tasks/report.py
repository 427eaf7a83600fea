"""Stage `report`: a static HTML site of the build (filterspeak/report): filters, attributes,
classes, decisions and failures, with pictures. Stored like any stage output (rebuilt only when
a table it reads, its parameters, its code or its templates change); `filterspeak report` and
the build publish it to `<store>/report/<backbone>/<layer>/` (filterspeak/report/publish.py).

Its thumbnails are cached once per (image, size) in `<store>/thumbnails/` and hard-linked into
each report, so rebuilds and other layers reuse them.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from filterspeak.report import pages
from filterspeak.report.collect import Sizes, collect
from filterspeak.report.pictures import Thumbnails
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.fingerprint import fingerprint
from filterspeak.storage.schemas import BACKBONE_LAYER, I64, STR, table
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

SITE = "site"  # the output's folder holding index.html and the rest
TABLES = {
    # every file of the site: what `filterspeak report` publishes, and its size
    "report_files": table(("path", STR), ("kind", STR), ("bytes", I64), partition=BACKBONE_LAYER)
}
TEMPLATES = Path(pages.__file__).parent  # templates/ and static/: part of the key, like code


@dataclass(frozen=True)
class ReportParams:
    response: str  # the build's --response: a filter's top images are those it responds to most
    dataset: str  # named on the overview
    image_size: int  # the network's input: thumbnails show the image as it saw it
    resize: int | None
    sizes: Sizes = field(default_factory=Sizes)

    def to_dict(self) -> dict:
        return asdict(self)


def params_from(options, inputs: Inputs | None = None) -> ReportParams:
    preprocessing = options.preprocessing
    return ReportParams(options.response, options.dataset, preprocessing.image_size, preprocessing.resize)


def templates_version(_params: ReportParams | None = None) -> str:
    """The content of the templates and static files: a changed page layout rebuilds the report."""
    files = sorted(p for folder in ("templates", "static") for p in (TEMPLATES / folder).rglob("*") if p.is_file())
    return fingerprint([[p.relative_to(TEMPLATES).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()] for p in files])


def store_root(output: StageOutput) -> Path:
    """The store a stage output is written into: stages/<stage>/<fingerprint> under its root."""
    return output.final_directory.parents[2]


def compute(inputs: Inputs, params: ReportParams, context: Context, output: StageOutput) -> None:
    started = time.perf_counter()
    site = output.file("site", SITE)
    site.mkdir(parents=True, exist_ok=True)
    thumbnails = Thumbnails(store_root(output) / "thumbnails", params.image_size, params.resize)
    content = collect(inputs, params.sizes, params.response, context.backbone, context.layer, params.dataset, site, thumbnails)
    pages.write_pages(content, site)
    files = sorted(p for p in site.rglob("*") if p.is_file())
    listing = pd.DataFrame(
        {
            "path": [p.relative_to(site).as_posix() for p in files],
            "kind": [p.suffix.lstrip(".") for p in files],
            "bytes": [p.stat().st_size for p in files],
        }
    )
    output.write("report_files", listing)
    output.metrics.update(
        files=len(files),
        bytes=int(listing["bytes"].sum()),
        filters=len(content.filters),
        attributes=len(content.attributes),
        decisions=len(content.decisions),
        confusions=len(content.confusions),
        thumbnails_made=thumbnails.made,
        seconds=round(time.perf_counter() - started, 2),
    )


STAGE = StageSpec(
    name="report",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=compute,
    external=templates_version,
    reads={
        "images": ("image_id", "split", "class_id", "path"),
        "classes": ("class_id", "name"),
        "attributes": ("attribute_id", "phrase", "document_frequency"),
        "filter_responses": ALL_COLUMNS,
        "feature_maps": ALL_COLUMNS,
        "filter_attributes": ("filter", "attribute_id", "probability"),
        "filter_stats": ("filter", "selectivity", "entropy"),
        "class_attributes": ("class_id", "attribute_id", "probability", "rank"),
        "image_attribute_scores": ("image_id", "attribute_id", "score"),
        "predictions": ALL_COLUMNS,
        "filter_contributions": ALL_COLUMNS,
        "head_weights": ALL_COLUMNS,
        "explanations": ("image_id", "sentence"),
        "explanation_attributes": ("image_id", "rank", "attribute_id", "phrase"),
        "confusions": ALL_COLUMNS,
        "confusion_attributes": ALL_COLUMNS,
    },
)
