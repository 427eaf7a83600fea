"""A whole build in plain Python: run the stage graph, record the build, publish the catalog and
the report. The Prefect `build` flow (flows/build.py) is this function with each stage run as a
Prefect task and a cluster for extraction's shards; `filterspeak.Store.build` calls it directly,
with no Prefect server.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from filterspeak.api.publish import publish_report
from filterspeak.backbones.registry import random_init_warning
from filterspeak.errors import OptionError
from filterspeak.options import BuildOptions
from filterspeak.storage.builds import BuildRecord, save_build_record
from filterspeak.storage.cache import StageResult
from filterspeak.storage.catalog import publish, rebuild_catalog
from filterspeak.storage.locks import build_lock
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.runs import StageRecord, record_run
from filterspeak.tasks.graph import BY_NAME, REPORT_STAGE, TABLES, VIEWS, Runner, direct, run_graph
from filterspeak.tasks.stage import Context, ShardRunner

LOGGER = logging.getLogger("filterspeak.build")


@dataclass
class BuildReport:
    store: str
    run_id: str
    backbone: str
    layer: str  # the first layer; `layers` has them all
    layers: list[str] = field(default_factory=list)
    stages: list[StageRecord] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reports: dict[str, str] = field(default_factory=dict)  # layer -> the published report's index.html
    results: list[StageResult] = field(default_factory=list, repr=False)  # every stage output, in run order


def _in_process(address: str | None, resources: dict[str, float] | None) -> AbstractContextManager[ShardRunner | None]:
    if address:
        raise OptionError(
            "a plain-Python build runs extraction in this process: for --dask run `filterspeak build --dask ...` "
            "or the Prefect flow filterspeak.flows.build.build"
        )
    return contextlib.nullcontext(None)


def run_build(
    store: str | None = None,
    options: BuildOptions | None = None,
    progress: bool = True,
    latest: bool = True,
    report: bool = True,
    runner: Runner = direct,
    shard_runner: Callable[[str | None, dict[str, float] | None], AbstractContextManager[ShardRunner | None]] = _in_process,
    logger: logging.Logger | logging.LoggerAdapter = LOGGER,
) -> BuildReport:
    """Run every stage for one dataset × backbone × layer(s); reuse whatever is already built.

    `latest=False` builds without becoming the store's default build (what `explain` and
    `evaluate` pick when no backbone is named); `report=False` without the HTML report stage
    (the evaluation's twins). `runner` runs each stage (the flow: as a Prefect task);
    `shard_runner(address, resources)` gives where extraction's shards run (the flow: a Dask cluster)."""
    options = options or BuildOptions()
    options.validate()
    paths = StorePaths.at(store).ensure()
    started, clock = datetime.now(UTC), time.perf_counter()
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    spec, layers = options.backbone_spec, options.layers
    warning = random_init_warning(spec) if latest else None  # a twin that is not the default build is random on purpose
    if warning:
        logger.warning(warning)
        print(f"WARNING: {warning}", file=sys.stderr)
    records: list[StageRecord] = []

    def note(result: StageResult, layer: str | None, seconds: float) -> None:
        scope = (spec.name, layer) if BY_NAME[result.stage].scope != "dataset" else (None, None)
        records.append(StageRecord(result.stage, result.manifest.fingerprint, result.reused, seconds, *scope))
        where = f" [{layer}]" if layer else ""
        logger.info(f"{result.stage + where:<28} {'reused' if result.reused else 'computed':<9} {seconds:7.2f} s")

    with build_lock(paths, notify=logger.warning), shard_runner(options.dask, options.resources) as shards:
        context = Context(spec.name, device=options.device, progress=progress, loader_workers=options.loader_workers, shards=shards)
        outcome = run_graph(paths, options, layers, context, runner, note, without=frozenset() if report else REPORT_STAGE)
        for layer, built in outcome.layers.items():
            save_build_record(paths, BuildRecord(spec.name, layer, built.stages, options.to_dict(), run_id), latest=latest)
        publish(paths, [result for result, _ in outcome.results])
        # only now, with the records saved: until here the previous build's report stays published
        reports = {layer: str(publish_report(paths, spec.name, layer)) for layer in layers} if report else {}
        record_run(paths, run_id, started, records)
        rebuild_catalog(paths, TABLES, VIEWS)

    first = outcome.layers[layers[0]].produced
    decided = {layer: built.produced.by_table["predictions"].metrics for layer, built in outcome.layers.items()}
    return BuildReport(
        store=paths.location,
        run_id=run_id,
        backbone=spec.name,
        layer=layers[0],
        layers=layers,
        stages=records,
        metrics={
            **{key: first.by_stage["backbone"].metrics.get(key) for key in ("weights_source", "weights_sha256", "shipped_dataset_matches")},
            "test_accuracy": decided[layers[0]]["decision_accuracy"],
            "test_accuracy_by_layer": {layer: metrics["decision_accuracy"] for layer, metrics in decided.items()},
            "decomposition": decided[layers[0]]["decomposition"],
            "vocabulary_size": first.by_stage["captions"].metrics["vocabulary_size"],
            "filters": first.by_table["filter_responses"].metrics["filters"],
            "images": first.by_stage["dataset"].metrics["images"],
            "classes": first.by_stage["dataset"].metrics["classes"],
            "captions": first.by_stage["dataset"].metrics["captions"],
        },
        examples=list(first.by_stage["explanations"].metrics.get("examples", [])),
        seconds=round(time.perf_counter() - clock, 2),
        reports=reports,
        results=[result for result, _ in outcome.results],
    )
