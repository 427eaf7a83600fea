"""Stage `report`: a static HTML site of the build (filterspeak/report): filters, attributes,
classes, decisions and failures, with pictures. Stored like any stage output (rebuilt only when
a table it reads, its parameters, its code or its templates change); `filterspeak report` and
the build publish it to `<store>/report/<backbone>/<layer>/` (filterspeak/api/publish.py).

Here the tables are read (`read_tables`, through tasks/readers.py) and handed to
filterspeak/report/collect.py, which makes the pages' content and pictures from them. Its
thumbnails are made once per (image, size) in the cache it declares (`thumbnails`:
`<store>/caches/thumbnails/`) and hard-linked into each report, so rebuilds and other layers
reuse them; everything else it writes is inside its output.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from filterspeak.backbones.quantised_maps import dequantise
from filterspeak.interpret.responses import RESPONSES
from filterspeak.report import content as c
from filterspeak.report import pages
from filterspeak.report.collect import Shown, Sizes, Tables, collect, write_overlays
from filterspeak.report.pictures import Thumbnails
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.fingerprint import fingerprint
from filterspeak.storage.schemas import BACKBONE_LAYER, I64, STR, table
from filterspeak.storage.stored_maps import map_arrays
from filterspeak.tasks.readers import attribute_map_weights, attribute_score_matrix, filter_attribute_pdf, response_matrix, split_ids
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

SITE = "site"  # the output's folder holding index.html and the rest
THUMBNAILS = "thumbnails"  # the cache the stage declares (StageSpec.caches): thumbnails shared by every report of the store
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


def read_tables(inputs: Inputs, response: str) -> Tables:
    """The tables the report is made of (all but the decisions' contributions and the feature maps,
    which are read for the images shown only)."""
    images = inputs.read("images", ["image_id", "split", "class_id", "path"]).set_index("image_id").sort_index()
    images["file"] = inputs.located("images", images["path"].tolist())
    attributes = inputs.read("attributes", ["attribute_id", "phrase", "document_frequency"]).sort_values("attribute_id")
    pdf = filter_attribute_pdf(inputs, int(inputs.metrics("filter_responses")["filters"]), len(attributes))
    predictions = inputs.read("predictions").set_index("image_id")
    test = predictions.loc[predictions.index.intersection(split_ids(inputs, "test"))]
    train_ids = split_ids(inputs, "train")
    failures = "confusions" in inputs.producers
    return Tables(
        images=images,
        classes=inputs.read("classes", ["class_id", "name"]),
        attributes=attributes,
        pdf=pdf,
        weights=attribute_map_weights(inputs, pdf, response),
        stats=inputs.read("filter_stats", ["filter", "selectivity", "entropy"]).set_index("filter"),
        test=test,
        train_ids=train_ids,
        responses=response_matrix(inputs, "filter_responses", RESPONSES[response].column, train_ids),
        scores=attribute_score_matrix(inputs, test.index.to_numpy(), len(attributes)),
        class_attributes=inputs.read("class_attributes", ["class_id", "attribute_id", "probability", "rank"]),
        sentences=inputs.read("explanations", ["image_id", "sentence"]).set_index("image_id")["sentence"],
        cited=inputs.read("explanation_attributes", ["image_id", "rank", "attribute_id", "phrase"]),
        head=inputs.read("head_weights") if "head_weights" in inputs.producers else None,
        confusions=inputs.read("confusions") if failures else None,
        confusion_attributes=inputs.read("confusion_attributes") if failures else None,
        decomposition=str(inputs.metrics("predictions").get("decomposition", "")),
        example_sentences=list(inputs.metrics("explanations").get("examples", [])),
    )


def shown_maps(inputs: Inputs, image_ids: np.ndarray, rows: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image ids, (n, F, H, W) maps) of the given images from `feature_maps`, one batch at a time:
    only their maps are decoded."""
    for batch in inputs.batches("feature_maps", rows=rows):
        ids = batch.column("image_id").to_numpy()
        keep = np.flatnonzero(np.isin(ids, image_ids))
        if len(keep):
            yield ids[keep], dequantise(*map_arrays(batch.take(keep)))


def make_site(inputs: Inputs, params: ReportParams, context: Context, site: Path, thumbnails: Thumbnails) -> c.Site:
    """The report's content, its overlays written under `site` and its thumbnails linked there."""
    tables = read_tables(inputs, params.response)
    shown = Shown.of(tables, params.sizes)
    write_overlays(site, tables, shown, shown_maps(inputs, shown.overlaid))
    contributions = response_matrix(inputs, "filter_contributions", "contribution", shown.decisions)
    return collect(tables, shown, contributions, params.sizes, context.backbone, context.layer, params.dataset, site, thumbnails)


def compute(inputs: Inputs, params: ReportParams, context: Context, output: StageOutput) -> None:
    started = time.perf_counter()
    site = output.file("site", SITE)
    site.mkdir(parents=True, exist_ok=True)
    thumbnails = Thumbnails(output.cache(THUMBNAILS), params.image_size, params.resize)
    content = make_site(inputs, params, context, site, thumbnails)
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
    caches=(THUMBNAILS,),
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
