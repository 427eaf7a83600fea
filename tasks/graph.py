"""The stage graph: its order and what is derived from the stages' declarations — the run of a
whole build, the tables of the catalog, and the read-back view of a finished build.

The order is derived (`ordered`): every stage runs after the stages that write what it reads,
and a stage that declares it `replaces` tables (the trained head's decision tables) after
their first writer; dataset-scope stages first, then backbone, then layer scope. Every table a
stage reads has exactly one writer, besides declared replacements (checked on import). A stage
of scope "layer" runs once per explained layer; one with `run_layers` serves all layers in one
pass (extraction).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from filterspeak.errors import FilterSpeakError
from filterspeak.sql import load_sql
from filterspeak.storage.cache import StageResult, load_stage_result
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import ERRORS, Table
from filterspeak.tasks import (
    attribute_scores,
    backbone,
    captions,
    cooccurrence,
    dataset,
    explanations,
    extract,
    failures,
    head,
    pdfs,
    report,
)
from filterspeak.tasks.readers import attribute_map_weights, filter_attribute_pdf, split_ids, vocabulary_of
from filterspeak.tasks.stage import SCOPES, Context, Produced, StageSpec, run


class GraphError(TypeError):
    """Stage declarations that make no graph: a read nobody writes, a table with two writers, a cycle."""


def ordered(stages: Iterable[StageSpec]) -> tuple[StageSpec, ...]:
    """The run order of `stages`, derived from what each reads, writes and replaces; among stages
    free to run, the widest scope first, then by name, so the order does not depend on how the
    stages are listed. A GraphError names the declaration that makes no graph."""
    listed = list(stages)
    writers: dict[str, list[StageSpec]] = {}
    for spec in listed:
        for table in spec.writes:
            writers.setdefault(table, []).append(spec)
    after: dict[str, set[str]] = {spec.name: set() for spec in listed}
    for spec in listed:
        for table in spec.replaces:
            if table not in spec.writes:
                raise GraphError(f"stage {spec.name!r} replaces {table!r} but does not write it")
        for table in set(spec.reads) | set(spec.replaces):
            producers = [other for other in writers.get(table, []) if other.name != spec.name]
            first = [other for other in producers if table not in other.replaces]
            if not first:
                raise GraphError(
                    f"stage {spec.name!r} {'reads' if table in spec.reads else 'replaces'} {table!r}, which no other stage writes"
                )
            if len(first) > 1:
                names = ", ".join(repr(other.name) for other in first)
                raise GraphError(f"table {table!r} is written by {names}: one stage writes it, any other declares that it `replaces` it")
            after[spec.name] |= {other.name for other in (producers if table in spec.reads else first)}
            late = [other.name for other in producers if SCOPES.index(other.scope) > SCOPES.index(spec.scope)]
            if late:
                raise GraphError(f"stage {spec.name!r} (scope {spec.scope}) reads {table!r} from {late} of a narrower scope")
    order: list[StageSpec] = []
    waiting = sorted(listed, key=lambda spec: (SCOPES.index(spec.scope), spec.name))
    while waiting:
        done = {spec.name for spec in order}
        ready = next((spec for spec in waiting if after[spec.name] <= done), None)
        if ready is None:
            raise GraphError(f"the stages {[spec.name for spec in waiting]} read each other's tables in a cycle")
        order.append(ready)
        waiting.remove(ready)
    return tuple(order)


# Every stage of the pipeline, one module each, named for it (alphabetically: `ordered` derives the run order).
STAGES: tuple[StageSpec, ...] = ordered(
    module.STAGE
    for module in (attribute_scores, backbone, captions, cooccurrence, dataset, explanations, extract, failures, head, pdfs, report)
)
BY_NAME = {spec.name: spec for spec in STAGES}
REPORT_STAGE = frozenset({report.STAGE.name})  # what a build without its HTML report leaves out (`run_graph(without=)`)


def _tables() -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for spec in STAGES:
        for name, declared in spec.writes.items():
            if tables.setdefault(name, declared) != declared:
                raise TypeError(f"table {name!r} is declared twice with different schemas")
    return tables


TABLES: dict[str, Table] = _tables()  # every table a build can write: the catalog's views
# SQL sees the per-filter vector tables one row per (image, filter) under their documented names.
PER_FILTER_VIEWS = {"activations": "filter_responses", "contributions": "filter_contributions"}


def _views() -> dict[str, str]:
    """The derived catalog views over TABLES: name -> the statement that creates it (sql/)."""
    views = {}
    for view, stored in PER_FILTER_VIEWS.items():
        lists = [name for name, kind in TABLES[stored].columns if pa.types.is_list(kind)]
        unnested = ", ".join(f"unnest({column}) AS {column}" for column in lists)
        views[view] = load_sql("per_filter_view").format(view=view, table=stored, first=lists[0], columns=unnested)
    views["attribute_filter_counts"] = load_sql("attribute_filter_counts")
    for name in ("confusions_named", "failures_named"):
        views[name] = load_sql(name)
    return views


VIEWS: dict[str, str] = _views()
assert TABLES["errors"] == ERRORS

# A stage runner: given the stage and a zero-argument call that runs it, return its result(s).
# The build flow passes one that runs the call as a Prefect task; plain Python calls it.
Runner = Callable[[StageSpec, Callable[[], Any]], Any]


def direct(spec: StageSpec, call: Callable[[], Any]) -> Any:
    return call()


@dataclass
class LayerBuild:
    """The stage outputs that make up one explained layer of a build."""

    layer: str
    produced: Produced

    @property
    def stages(self) -> dict[str, str]:
        """stage -> fingerprint: the build record."""
        return {name: result.manifest.fingerprint for name, result in self.produced.by_stage.items()}


@dataclass
class GraphRun:
    """What a run of the graph produced, per layer, with every stage result in run order."""

    layers: dict[str, LayerBuild] = field(default_factory=dict)
    results: list[tuple[StageResult, str | None]] = field(default_factory=list)  # (result, layer or None)


def run_graph(
    paths: StorePaths,
    options,
    layers: list[str],
    context: Context = Context(),
    runner: Runner = direct,
    on_result: Callable[[StageResult, str | None, float], None] | None = None,
    without: frozenset[str] = frozenset(),
) -> GraphRun:
    """Run (or reuse) every enabled stage for `layers`; a stage re-runs only when what it reads,
    its parameters or its code changed. `on_result(result, layer, seconds)` follows progress.
    `without`: stages to leave out, which no other stage may read (the evaluation's twins and
    variants need no HTML report)."""
    import time

    left_out = {table for name in without for table in BY_NAME[name].writes}
    readers = sorted(spec.name for spec in STAGES if spec.name not in without and left_out & set(spec.reads))
    if readers:
        raise ValueError(f"stages {readers} read what {sorted(without)} write: those cannot be left out")
    shared, outcome = Produced(), GraphRun()
    backbone = options.backbone_spec.name
    per_layer: dict[str, Produced] = {}

    def record(result: StageResult, layer: str | None, seconds: float) -> StageResult:
        outcome.results.append((result, layer))
        if on_result is not None:
            on_result(result, layer, seconds)
        return result

    for spec in STAGES:
        if spec.name in without:
            continue
        if spec.scope != "layer":
            inputs = shared.inputs()
            if spec.enabled is not None and not spec.enabled(options, inputs):
                continue
            params = spec.params(options, inputs)
            scoped = dataclasses.replace(context, backbone=backbone, layer=None)
            clock = time.perf_counter()
            result = runner(spec, partial(run, spec, paths, inputs, params, scoped))
            shared.add(record(result, None, round(time.perf_counter() - clock, 2)))
            continue
        if not per_layer:
            per_layer = {layer: shared.copy() for layer in layers}
        inputs = per_layer[layers[0]].inputs()  # what decides params and enabling is shared by the layers
        if spec.enabled is not None and not spec.enabled(options, inputs):
            continue
        params = spec.params(options, inputs)
        if spec.run_layers is not None:
            clock = time.perf_counter()
            results = runner(
                spec, partial(spec.run_layers, paths, inputs, params, layers, dataclasses.replace(context, backbone=backbone, layer=None))
            )
            computed = sum(not r.reused for r in results)  # one pass served every computed layer
            seconds = round((time.perf_counter() - clock) / max(computed, 1), 2)
            for layer, result in zip(layers, results):
                per_layer[layer].add(record(result, layer, 0.0 if result.reused else seconds))
            continue
        for layer in layers:
            layer_inputs = per_layer[layer].inputs()
            scoped = dataclasses.replace(context, backbone=backbone, layer=layer)
            clock = time.perf_counter()
            result = runner(spec, partial(run, spec, paths, layer_inputs, params, scoped))
            per_layer[layer].add(record(result, layer, round(time.perf_counter() - clock, 2)))
    outcome.layers = {layer: LayerBuild(layer, per_layer[layer] if per_layer else shared) for layer in layers}
    return outcome


# ---- reading a finished build back ------------------------------------------------------------


@dataclass
class BuildView:
    """A finished build of one layer, read back from its record: every table by name, the way a
    stage reads its inputs (what `explain`, `evaluate` and `diff` use)."""

    paths: StorePaths
    produced: Produced
    options: Any  # BuildOptions
    layer: str

    @classmethod
    def of(cls, paths: StorePaths, stages: dict[str, str], options, layer: str) -> BuildView:
        produced = Produced()
        for spec in STAGES:  # graph order: a later producer of a table replaces an earlier one
            if spec.name in stages:
                produced.add(load_stage_result(paths, spec.name, stages[spec.name]))
        return cls(paths, produced, options, layer)

    def result(self, stage: str) -> StageResult:
        return self.produced.by_stage[stage]

    def table_result(self, table: str) -> StageResult:
        return self.produced.by_table[table]

    def read(self, table: str, columns: list[str] | None = None):
        return self.table_result(table).read(table, columns)

    def read_arrow(self, table: str, columns: list[str] | None = None) -> pa.Table:
        return self.table_result(table).read_arrow(table, columns)

    def batches(self, table: str, columns: list[str] | None = None, rows: int = 4096) -> Iterator[pa.RecordBatch]:
        return self.table_result(table).batches(table, columns, rows)

    def metrics(self, table: str) -> dict:
        return self.table_result(table).metrics

    @property
    def backbone(self) -> str:
        return self.options.backbone_spec.name

    @property
    def phrases(self) -> list[str]:
        return vocabulary_of(self).phrases

    @property
    def num_filters(self) -> int:
        return int(self.metrics("filter_responses")["filters"])

    @property
    def pdf(self) -> np.ndarray:
        return filter_attribute_pdf(self, self.num_filters, len(self.phrases))

    def split_ids(self, split: str) -> np.ndarray:
        return split_ids(self, split)

    @property
    def attribute_map_weights(self) -> np.ndarray:
        """(A, F) p(f|a): the weights of the heat maps M_a (readers.attribute_map_weights)."""
        return attribute_map_weights(self, self.pdf, self.options.response)

    def model(self):
        """The build's network: the built-in backbone's trained weights, any other from its verified file."""
        from filterspeak.backbones.loading import load_model

        backbone = self.table_result("backbones")
        spec = self.options.backbone_spec
        return load_model(spec, backbone.file_path("weights") if spec.trainable else None, backbone.metrics["num_outputs"])

    def stage_names(self) -> Iterator[str]:
        return iter(self.produced.by_stage)


class StageMissing(FilterSpeakError):
    """A finished build recorded before a stage that a command reads existed."""


def require_stage(build, stage: str, feature: str) -> None:
    """One line telling the user to rebuild when `build` (a BuildView) has no output of `stage`."""
    if stage not in build.produced.by_stage:
        raise StageMissing(
            f"the build of {build.backbone}:{build.layer} predates {feature} (it has no {stage!r} stage): "
            "run `filterspeak build` again with the same options (the stored stages are reused)"
        )


def open_build(paths: StorePaths, backbone: str | None = None, layer: str | None = None) -> BuildView:
    """The recorded build of (backbone, layer), the latest when either is left out."""
    from filterspeak.options import options_from_record
    from filterspeak.storage.builds import load_build_record

    record = load_build_record(paths, backbone, layer)
    options, _notes = options_from_record(record.options)
    return BuildView.of(paths, record.stages, options.replace(layer=record.layer), record.layer)
