"""A stage, declared once: the tables it reads (and which of their columns), the tables it writes
(with their schemas), how its parameters come from the build options, and its compute function.

Everything else is derived from the declaration: its cache key (the content of exactly the
columns it reads, its parameters, and the code version of its module's import closure), the
graph's order (tasks/graph.ordered), the Prefect task wrappers, the build record, and the read-back view that
`explain` and `evaluate` use. A stage runs and tests without Prefect: `run(spec, paths, ...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa

from filterspeak.storage.cache import StageOutput, StageResult, lookup, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import Table

ALL_COLUMNS = None  # a read of every column of a table
SCOPES = ("dataset", "backbone", "layer")  # what a stage's outputs are partitioned by, at most


@dataclass(frozen=True)
class Context:
    """What a run is about, beyond the parameters: where its outputs are partitioned, and how it
    runs (never part of a cache key: CPU and CUDA agree, a bar changes no table)."""

    backbone: str | None = None
    layer: str | None = None
    device: str = "auto"
    progress: bool = True
    loader_workers: int | None = None  # image-decoding processes for extraction (None: as suits the machine)
    shards: ShardRunner | None = None  # where extraction shards run (None: in this process; flows/distributed.py: a Dask cluster)


class ShardRunner(Protocol):
    """Runs `function(job)` for every job, anywhere (a cluster's workers), calling `done(result)` as
    each finishes; returns when all have, raising the first failure. A stage hands it only
    module-level functions and picklable jobs."""

    def map(self, function: Callable[[Any], Any], jobs: list[Any], done: Callable[[Any], None]) -> list[Any]: ...


Compute = Callable[["Inputs", Any, "Context", StageOutput], None]


@dataclass(frozen=True)
class StageSpec:
    """One stage of the graph.

    reads:   table -> the columns read (ALL_COLUMNS for all); a stage reads nothing else.
    writes:  table -> its declaration (schema, partition, location columns).
    params:  (build options, inputs) -> the stage's parameters (a frozen dataclass with to_dict()).
    compute: (inputs, params, context, output) -> None; writes the declared tables into output
             (None for a `run_layers` stage, which gives `run` one per layer).
    external: params -> what the stage reads from outside the store (a data folder's listing), keyed too.
    enabled: (build options, inputs) -> whether the build runs it (default: always).
    run_layers: (paths, inputs, params, layers, context) -> one result per layer, for a stage that
             serves several layers in one pass (extraction); each layer is still keyed and stored alone.
    replaces: tables this stage writes in place of their first writer's when it runs (the trained
             head's decision tables replace extraction's): it runs after that writer, and readers
             of the tables read its output (tasks/graph.ordered).
    caches:  the shared caches it may write besides its output (StageOutput.cache: the report's
             thumbnails), files made once and linked into its outputs; never part of its key.
    """

    name: str
    module: str  # whose import closure is the stage's code version
    reads: Mapping[str, tuple[str, ...] | None]
    writes: Mapping[str, Table]
    params: Callable[[Any, Inputs], Any]
    compute: Compute | None  # None for a stage whose run_layers gives each pass its compute
    scope: str = "dataset"
    external: Callable[[Any], Any] | None = None
    enabled: Callable[[Any, Inputs], bool] | None = None
    run_layers: Callable[..., list[StageResult]] | None = None
    replaces: frozenset[str] = frozenset()
    caches: tuple[str, ...] = ()

    def partition(self, context: Context) -> dict[str, str]:
        values = {"stage": self.name}
        if self.scope in ("backbone", "layer"):
            values["backbone"] = context.backbone
        if self.scope == "layer":
            values["layer"] = context.layer
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Inputs:
    """The upstream tables a stage may read: table name -> the stage output that holds it.

    Reads are checked against the stage's declaration, so its cache key covers all it reads."""

    producers: Mapping[str, StageResult]
    allowed: Mapping[str, tuple[str, ...] | None] | None = None

    @classmethod
    def of(cls, *results: StageResult) -> Inputs:
        """The tables of these stage outputs (a later one's table replaces an earlier one's)."""
        produced = Produced()
        for result in results:
            produced.add(result)
        return produced.inputs()

    def for_stage(self, spec: StageSpec) -> Inputs:
        return Inputs({t: r for t, r in self.producers.items() if t in spec.reads}, spec.reads)

    def result(self, table: str) -> StageResult:
        """The output holding `table` (for its files and metrics)."""
        if self.allowed is not None and table not in self.allowed:
            raise KeyError(f"table {table!r} is not among the tables this stage declares it reads: {', '.join(self.allowed)}")
        try:
            return self.producers[table]
        except KeyError:
            raise KeyError(f"no stage of this build produced table {table!r}") from None

    def _check_columns(self, table: str, columns: list[str] | None) -> None:
        declared = None if self.allowed is None else self.allowed.get(table)
        if declared is not None and (columns is None or not set(columns) <= set(declared)):
            raise KeyError(f"table {table!r}: this stage declares it reads only {list(declared)}, asked for {columns or 'all'}")

    def read(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        self._check_columns(table, columns)
        return self.result(table).read(table, columns)

    def read_arrow(self, table: str, columns: list[str] | None = None) -> pa.Table:
        self._check_columns(table, columns)
        return self.result(table).read_arrow(table, columns)

    def batches(self, table: str, columns: list[str] | None = None, rows: int = 4096) -> Iterator[pa.RecordBatch]:
        """The table in row order, `rows` at a time (for tables too large to hold at once)."""
        self._check_columns(table, columns)
        return self.result(table).batches(table, columns, rows)

    def path(self, table: str):
        """The Parquet file of `table` (for SQL over it); the stage must read every column."""
        self._check_columns(table, None)
        return self.result(table).table_path(table)

    def metrics(self, table: str) -> dict[str, Any]:
        return self.result(table).metrics

    def located(self, table: str, names) -> list[str]:
        """The files that `table` names (StageResult.located)."""
        return self.result(table).located(names)


def table_key(result: StageResult, table: str, columns: tuple[str, ...] | None) -> str:
    """What a reader of `columns` of `table` keys on: their content, with each location column
    replaced by the content hash its writer recorded (see `Table.location`)."""
    from filterspeak.storage.fingerprint import fingerprint

    location = result.metrics.get("locations", {}).get(table, {})  # column -> the metric with its content hash
    if columns is None and not location:
        return result.table_hash(table)
    names = columns if columns is not None else tuple(result.read(table).columns)
    content = [c for c in names if c not in location]
    hashed = result.table_hash(table, content)
    replaced = [result.metrics[location[c]] for c in names if c in location]
    return fingerprint([hashed, replaced]) if replaced else hashed


def key_inputs(spec: StageSpec, inputs: Inputs, params: Any, context: Context) -> dict[str, Any]:
    """Everything the stage's output depends on; its fingerprint is the hash of this."""
    keyed: dict[str, Any] = {
        table: table_key(inputs.producers[table], table, columns) if table in inputs.producers else None
        for table, columns in sorted(spec.reads.items())
    }
    key = {"reads": keyed, "params": params.to_dict(), "code": code_version(spec.module)}
    if spec.external is not None:
        key["external"] = spec.external(params)
    if spec.scope == "layer":
        key["layer"] = context.layer
    return key


def run(
    spec: StageSpec, paths: StorePaths, inputs: Inputs, params: Any, context: Context = Context(), compute: Compute | None = None
) -> StageResult:
    """The stored output for these inputs, or compute it once (atomically) and store it. `compute`:
    this pass's, for a stage whose `run_layers` makes one per layer (extraction assembles its shards)."""
    compute = compute or spec.compute
    if compute is None:
        raise TypeError(f"stage {spec.name!r} runs through its run_layers, which gives each layer its compute")
    inputs = inputs.for_stage(spec)
    key = key_inputs(spec, inputs, params, context)
    return run_stage(
        paths, spec.name, key, lambda output: compute(inputs, params, context, output), spec.writes, spec.partition(context), spec.caches
    )


def cached(spec: StageSpec, paths: StorePaths, inputs: Inputs, params: Any, context: Context = Context()) -> StageResult | None:
    """The stored output, or None when it would have to be computed."""
    inputs = inputs.for_stage(spec)
    return lookup(paths, spec.name, key_inputs(spec, inputs, params, context))


@dataclass
class Produced:
    """Which stage output holds each table of a build, added in graph order: a stage that
    `replaces` a table runs after its first writer, so its output is the one kept."""

    by_table: dict[str, StageResult] = field(default_factory=dict)
    by_stage: dict[str, StageResult] = field(default_factory=dict)

    def add(self, result: StageResult) -> StageResult:
        self.by_stage[result.stage] = result
        for output in result.manifest.tables:
            self.by_table[output.table] = result
        return result

    def inputs(self) -> Inputs:
        return Inputs(dict(self.by_table))

    def copy(self) -> Produced:
        return Produced(dict(self.by_table), dict(self.by_stage))
