"""The `build` flow: wire the stages together, publish the catalog. Composition only."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from prefect import flow, get_run_logger

from filterspeak.flows.artifacts import publish_build_artifacts
from filterspeak.flows.config import BuildOptions
from filterspeak.storage.builds import BuildRecord, save_build_record
from filterspeak.storage.cache import StageResult
from filterspeak.storage.catalog import publish, rebuild_catalog
from filterspeak.storage.locks import build_lock
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.runs import StageRecord, record_run
from filterspeak.tasks import prefect_tasks as stages


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


@flow(name="build", log_prints=True)
def build(
    store: str | None = None, options: BuildOptions | None = None, progress: bool = True, latest: bool = True
) -> BuildReport:
    """Run every stage for one dataset × backbone × layer(s); reuse whatever is already built.

    `latest=False` builds without becoming the store's default build (what `explain` and
    `evaluate` pick when no backbone is named)."""
    options = options or BuildOptions()
    options.validate()
    paths = StorePaths.at(store).ensure()
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    spec, layers = options.backbone_spec, options.layers
    records: list[StageRecord] = []
    results: list[StageResult] = []

    def note(result: StageResult, seconds: float, layer: str | None, per_backbone: bool = True) -> StageResult:
        scope = (spec.name, layer) if per_backbone else (None, None)
        records.append(StageRecord(result.stage, result.manifest.fingerprint, result.reused, seconds, *scope))
        results.append(result)
        where = f" [{layer}]" if layer else ""
        get_run_logger().info(f"{result.stage + where:<28} {'reused' if result.reused else 'computed':<9} {seconds:7.2f} s")
        return result

    def run(stage_task, *args, layer: str | None = None, per_backbone: bool = True, **kwargs) -> StageResult:
        stage_clock = time.perf_counter()
        result = stage_task(*args, **kwargs)
        return note(result, round(time.perf_counter() - stage_clock, 2), layer, per_backbone)

    outcomes: dict[str, dict[str, StageResult]] = {}
    with build_lock(paths, notify=get_run_logger().warning):  # shows on the run page, not only the terminal
        dataset = run(stages.dataset_task, paths, options.dataset_params, progress, per_backbone=False)
        captions = run(stages.captions_task, paths, dataset, options.caption_params, progress, per_backbone=False)
        backbone = run(stages.backbone_task, paths, dataset, spec, options.preprocessing, options.device, progress)
        shared = [dataset, captions, backbone]
        trained_head = options.trains_head(backbone.metrics["num_outputs"], dataset.metrics["classes"])
        extract_clock = time.perf_counter()
        extractions = stages.extract_task(
            paths, dataset, backbone, spec, options.preprocessing, layers,
            head="none" if trained_head else "model", device=options.device, progress=progress,
        )
        computed = sum(not e.reused for e in extractions)  # one pass served every computed layer
        extract_seconds = round((time.perf_counter() - extract_clock) / max(computed, 1), 2)
        for layer, extraction in zip(layers, extractions):
            note(extraction, 0.0 if extraction.reused else extract_seconds, layer)
            decision = (
                run(stages.head_task, paths, dataset, extraction, options.head_params, layer=layer) if trained_head else extraction
            )
            cooccurrence = run(stages.cooccurrence_task, paths, dataset, captions, extraction, options.cooccurrence_params, layer=layer)
            pdfs = run(stages.pdfs_task, paths, dataset, captions, extraction, decision, cooccurrence, options.pdf_params, layer=layer)
            explanations = run(
                stages.explanations_task, paths, dataset, captions, extraction, decision, pdfs, options.explanation_params,
                layer=layer,
            )
            layer_results = [extraction, *([decision] if trained_head else []), cooccurrence, pdfs, explanations]
            outcomes[layer] = {"extract": extraction, "decision": decision, "explanations": explanations}
            save_build_record(
                paths,
                BuildRecord(
                    spec.name, layer, {r.stage: r.manifest.fingerprint for r in shared + layer_results},
                    options.to_dict(), run_id, decision=decision.stage,
                ),
                latest=latest,
            )
        publish(paths, results)
        record_run(paths, run_id, started, records)
        rebuild_catalog(paths)

    first = outcomes[layers[0]]
    report = BuildReport(
        store=str(paths.root),
        run_id=run_id,
        backbone=spec.name,
        layer=layers[0],
        layers=layers,
        stages=records,
        metrics={
            "test_accuracy": first["decision"].metrics["decision_accuracy"],
            "test_accuracy_by_layer": {layer: o["decision"].metrics["decision_accuracy"] for layer, o in outcomes.items()},
            "decomposition": first["decision"].metrics["decomposition"],
            "vocabulary_size": captions.metrics["vocabulary_size"],
            "filters": first["extract"].metrics["filters"],
            "images": dataset.metrics["images"],
            "classes": dataset.metrics["classes"],
            "captions": dataset.metrics["captions"],
        },
        examples=list(first["explanations"].metrics.get("examples", [])),
        seconds=round(time.perf_counter() - clock, 2),
    )
    publish_build_artifacts(report, results)  # the stage table and summary on the run's page in the UI
    return report
