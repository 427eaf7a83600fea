"""The `evaluate` flow: `filterspeak.api.evaluate.evaluate_build` with each stage run as a Prefect
task and the twins built by the `build` flow (subflows on the run's page). No logic of its own."""

from __future__ import annotations

from typing import Any

from prefect import flow

from filterspeak.api.evaluate import evaluate_build
from filterspeak.api.metrics import METRICS
from filterspeak.evaluation.report import EvaluationRecord
from filterspeak.flows.build import build
from filterspeak.tasks.prefect_tasks import as_prefect_task


@flow(name="evaluate", log_prints=True)
def evaluate(
    store: str | None = None,
    backbone: str | None = None,
    layer: str | None = None,
    variants: bool = False,
    device: str = "auto",
    progress: bool = True,
    metrics: tuple[str, ...] = METRICS,
    extra_variants: tuple[tuple[str, dict[str, Any]], ...] = (),
) -> EvaluationRecord:
    """Score the build's explanations against ground truth (see `evaluate_build`)."""
    return evaluate_build(store, backbone, layer, variants, device, progress, metrics, extra_variants, as_prefect_task, build)
