"""Stage `cooccurrence`: Σ_x p(x|f) p(a|x) for every (filter, attribute), as a product streamed
over the train images (filterspeak/interpret/cooccurrence.py): DuckDB serves each chunk's
attributes (sql/image_attribute_chunk.sql), and memory holds one chunk, whatever the image count."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from filterspeak.errors import OptionError
from filterspeak.interpret.cooccurrence import CooccurrenceSums, Selection, TopResponses
from filterspeak.interpret.responses import response
from filterspeak.progress import Progress
from filterspeak.sql import load_sql
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.duckdb_session import parquet_views
from filterspeak.storage.schemas import BACKBONE_LAYER, F64, I32, I64, table
from filterspeak.tasks.readers import CHUNK_IMAGES, split_ids, vector_chunks
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {"cooccurrence": table(("filter", I32), ("attribute_id", I64), ("cooccurrence", F64), ("support", I64), partition=BACKBONE_LAYER)}


@dataclass(frozen=True)
class CooccurrenceParams:
    response: str  # s_f(x): a name in filterspeak.interpret.responses.RESPONSES
    top_k: int  # images kept per filter for p(x|f); 0 keeps every train image

    def __post_init__(self) -> None:
        response(self.response)  # an unknown name is an error, never silently another response
        if self.top_k < 0:
            raise OptionError("--top-k-images must be >= 0 (0 keeps all images)")

    def to_dict(self) -> dict:
        return asdict(self)


def params_from(options, inputs: Inputs | None = None) -> CooccurrenceParams:
    return CooccurrenceParams(response=options.response, top_k=options.top_k_images)


def _selection(inputs: Inputs, column: str, train: np.ndarray, filters: int, top_k: int) -> Selection:
    """Which images count for each filter (a first pass over the responses when top_k > 0)."""
    if top_k == 0:
        return Selection.positive(filters)
    top = TopResponses(top_k, filters)
    for _ids, matrices in vector_chunks(inputs, "filter_responses", [column], train, CHUNK_IMAGES, np.float32):
        top.add(matrices[column])
    return top.selection()


def compute(inputs: Inputs, params: CooccurrenceParams, context: Context, output: StageOutput) -> None:
    column = response(params.response).column
    train = split_ids(inputs, "train")
    filters = int(inputs.metrics("filter_responses")["filters"])
    statement = load_sql("image_attribute_chunk")
    with parquet_views({"image_attributes": inputs.path("image_attributes")}) as connection:
        attributes = connection.execute("SELECT coalesce(max(attribute_id) + 1, 0) FROM image_attributes").fetchone()[0]
        selection = _selection(inputs, column, train, filters, params.top_k)
        sums = CooccurrenceSums(filters, attributes)
        chunks = -(-len(train) // CHUNK_IMAGES)  # at least; more when the images of a split interleave
        label = f"cooccurrence {context.backbone}:{context.layer}"
        with Progress(chunks, label, unit="chunk", enabled=context.progress and chunks > 1) as bar:
            for ids, matrices in vector_chunks(inputs, "filter_responses", [column], train, CHUNK_IMAGES, np.float32):
                pairs = connection.execute(statement, {"first": int(ids[0]), "last": int(ids[-1])}).fetchnumpy()
                rows = np.searchsorted(ids, pairs["image_id"])
                kept = ids[np.minimum(rows, len(ids) - 1)] == pairs["image_id"]  # train images of the chunk only
                sums.add(
                    matrices[column], selection.mask(matrices[column]), rows[kept], pairs["attribute_id"][kept], pairs["probability"][kept]
                )
                bar.update(1)
    result = sums.table()
    output.write("cooccurrence", result)
    output.metrics.update(pairs=len(result))


STAGE = StageSpec(
    name="cooccurrence",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=compute,
    reads={"filter_responses": ALL_COLUMNS, "image_attributes": ALL_COLUMNS, "images": ("image_id", "split")},
)
