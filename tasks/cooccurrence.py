"""Stage `cooccurrence`: Σ_x p(x|f) p(a|x) for every (filter, attribute), as a product streamed
over the train images (filterspeak/interpret/cooccurrence.py): DuckDB serves each chunk's
attributes (sql/image_attribute_chunk.sql), and memory holds one chunk, whatever the image count.

The rows of `filter_responses` are summed in ranges (RangeJob) added in row order: here, or, on a
Dask cluster (`context.shards`, with every image counting: top_k 0), each range on a worker that
reads its rows from the store itself, with the same bits either way."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow.parquet as pq

from filterspeak.errors import OptionError
from filterspeak.interpret.cooccurrence import CooccurrenceSums, Selection, TopResponses
from filterspeak.interpret.responses import RESPONSES
from filterspeak.progress import Progress
from filterspeak.sql import load_sql
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.duckdb_session import parquet_views
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import BACKBONE_LAYER, F64, I32, I64, table
from filterspeak.storage.vectors import vector_matrix
from filterspeak.tasks.readers import CHUNK_IMAGES, read_ahead, split_ids, vector_chunks
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {"cooccurrence": table(("filter", I32), ("attribute_id", I64), ("cooccurrence", F64), ("support", I64), partition=BACKBONE_LAYER)}


@dataclass(frozen=True)
class CooccurrenceParams:
    response: str  # s_f(x): a name in filterspeak.interpret.responses.RESPONSES
    top_k: int  # images kept per filter for p(x|f); 0 keeps every train image

    def __post_init__(self) -> None:
        RESPONSES[self.response]  # an unknown name is an error, never silently another response
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


# Rows of filter_responses summed into one partial result, which are then added in row order. The
# split is part of the method (a constant of this module, so of its code version), not of where it
# runs: a cluster's workers and this process give bit-identical sums. One range up to 16,384 images.
RANGE_CHUNKS = 8


@dataclass(frozen=True)
class RangeJob:
    """The sums of some rows of `filter_responses`, as any process can compute them (a Dask
    worker's): files named relative to the store, read from this machine's copy or the bucket."""

    store: str  # StorePaths.location
    responses: str  # the filter_responses file, relative to the store
    attributes: str  # the image_attributes file, relative to the store
    column: str
    filters: int
    attribute_count: int
    start: int  # first row
    stop: int  # past the last row
    train: np.ndarray  # the train images among these rows (sorted ids)

    def __str__(self) -> str:
        return f"rows {self.start}-{self.stop - 1}"


def _row_chunks(job: RangeJob, paths: StorePaths) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train image ids, (n, F) float32 responses) of the job's rows, CHUNK_IMAGES rows at a time
    (the chunks `vector_chunks` reads from the start of the file), train images only."""
    location, filesystem = paths.readable(job.responses)
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(filesystem.open(location, "rb")) if filesystem is not None else location
        parquet = pq.ParquetFile(source)
        groups, first, row = [], None, 0
        for index in range(parquet.metadata.num_row_groups):
            rows = parquet.metadata.row_group(index).num_rows
            if row + rows > job.start and row < job.stop:
                groups.append(index)
                first = row if first is None else first
            row += rows
        table = parquet.read_row_groups(groups, columns=["image_id", job.column]).slice(job.start - (first or 0), job.stop - job.start)
    for offset in range(0, table.num_rows, CHUNK_IMAGES):
        chunk = table.slice(offset, CHUNK_IMAGES)
        ids = chunk.column(0).to_numpy()
        keep = np.isin(ids, job.train, assume_unique=True)
        if keep.any():
            yield ids[keep], vector_matrix(chunk.column(1), np.float32)[keep]


def range_sums(job: RangeJob, selection: Selection | None = None) -> CooccurrenceSums:
    """Σ over the job's train images, chunk by chunk in image order (filterspeak/interpret/cooccurrence.py).
    `selection` carries the images chosen per filter across ranges (top_k > 0 runs them in order here)."""
    paths = StorePaths.at(job.store)
    selection = selection if selection is not None else Selection.positive(job.filters)
    sums = CooccurrenceSums(job.filters, job.attribute_count)
    statement = load_sql("image_attribute_chunk")
    location, filesystem = paths.readable(job.attributes)
    with parquet_views({"image_attributes": location}, filesystem=filesystem) as connection:
        for ids, responses in read_ahead(_row_chunks(job, paths)):
            pairs = connection.execute(statement, {"first": int(ids[0]), "last": int(ids[-1])}).fetchnumpy()
            rows = np.searchsorted(ids, pairs["image_id"])
            kept = ids[np.minimum(rows, len(ids) - 1)] == pairs["image_id"]  # train images of the chunk only
            sums.add(responses, selection.mask(responses), rows[kept], pairs["attribute_id"][kept], pairs["probability"][kept])
    return sums


def _jobs(inputs: Inputs, column: str, train: np.ndarray, filters: int, attributes: int) -> list[RangeJob]:
    """One job per RANGE_CHUNKS chunks of rows that hold a train image."""
    responses, attributes_file = inputs.result("filter_responses"), inputs.result("image_attributes")
    image_ids = inputs.read_arrow("filter_responses", ["image_id"]).column(0).to_numpy()
    step = RANGE_CHUNKS * CHUNK_IMAGES
    jobs = []
    for start in range(0, len(image_ids), step):
        stop = min(start + step, len(image_ids))
        chosen = np.intersect1d(image_ids[start:stop], train)
        if len(chosen):
            job = RangeJob(
                store=responses.store.location,
                responses=responses.relative("filter_responses"),
                attributes=attributes_file.relative("image_attributes"),
                column=column,
                filters=filters,
                attribute_count=attributes,
                start=start,
                stop=stop,
                train=chosen,
            )
            jobs.append(job)
    return jobs


def compute(inputs: Inputs, params: CooccurrenceParams, context: Context, output: StageOutput) -> None:
    column = RESPONSES[params.response].column
    train = split_ids(inputs, "train")
    filters = int(inputs.metrics("filter_responses")["filters"])
    with parquet_views({"image_attributes": inputs.path("image_attributes")}) as connection:
        attributes = connection.execute("SELECT coalesce(max(attribute_id) + 1, 0) FROM image_attributes").fetchone()[0]
    jobs = _jobs(inputs, column, train, filters, attributes)
    sums = CooccurrenceSums(filters, attributes)
    label = f"cooccurrence {context.backbone}:{context.layer}"
    with Progress(len(jobs), label, unit="range", enabled=context.progress and len(jobs) > 1) as bar:
        if context.shards is not None and params.top_k == 0:  # ranges on the cluster, added here in row order
            for partial in context.shards.map(range_sums, jobs, lambda _partial: bar.update(1)):
                sums.merge(partial)
        else:  # here; with top_k > 0 which images count depends on the ranges before (ties): in order
            selection = _selection(inputs, column, train, filters, params.top_k)
            for job in jobs:
                sums.merge(range_sums(job, selection))
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
