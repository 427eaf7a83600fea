"""Run artifacts: a build's (or an explain run's) summary as Prefect table and markdown artifacts.

A scheduled run has no terminal to print to; these put what the CLI prints (each stage reused or
recomputed, its time and row counts, accuracy, example sentences) on the run's page in the UI.
Publishing is best effort: the store is already built when it happens, so a missing or failing
API is logged and never fails the run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filterspeak.flows.summary import weights_line

if TYPE_CHECKING:
    from filterspeak.flows.build import BuildReport
    from filterspeak.storage.cache import StageResult

BUILD_STAGES_KEY = "filterspeak-build-stages"
BUILD_SUMMARY_KEY = "filterspeak-build"
EXPLAIN_KEY = "filterspeak-explain"


def row_counts(result: StageResult | None) -> str:
    """Rows each table of a stage output holds ("images 96, classes 12"); '' when unknown."""
    if result is None:
        return ""
    counts: Counter[str] = Counter()
    for output in result.manifest.tables:
        counts[output.table] += output.rows
    return ", ".join(f"{table} {rows}" for table, rows in counts.items())


def stage_rows(report: BuildReport, results: Sequence[StageResult] = ()) -> list[dict[str, Any]]:
    """One row per stage run of the build, in order; row counts come from the stage manifests."""
    by_key = {(result.stage, result.manifest.fingerprint): result for result in results}
    return [
        {
            "stage": record.stage,
            "layer": record.layer or "",
            "state": "reused" if record.reused else "recomputed",
            "seconds": record.seconds,
            "rows": row_counts(by_key.get((record.stage, record.fingerprint))),
            "fingerprint": record.fingerprint[:12],
        }
        for record in report.stages
    ]


def summary_markdown(report: BuildReport, results: Sequence[StageResult] = ()) -> str:
    """The build at a glance: model accuracy, sizes, the stage table and example sentences."""
    metrics = report.metrics
    reused = sum(record.reused for record in report.stages)
    lines = [
        f"# FilterSpeak build `{report.run_id}`",
        "",
        f"- store: `{report.store}`",
        f"- backbone: `{report.backbone}`, layer{'s' if len(report.layers) > 1 else ''} {', '.join(f'`{name}`' for name in report.layers)}",
        f"- weights: {weights_line(metrics)}",
        f"- test accuracy: **{metrics['test_accuracy']:.3f}** (decisions decomposed by {metrics['decomposition']})",
    ]
    if len(report.layers) > 1:
        lines.append("- test accuracy by layer: " + ", ".join(f"`{k}` {v:.3f}" for k, v in metrics["test_accuracy_by_layer"].items()))
    lines += [
        f"- data: {metrics['images']} images of {metrics['classes']} classes, {metrics['captions']} captions, "
        f"{metrics['vocabulary_size']} attributes, {metrics['filters']} filters",
        f"- stages: {reused} of {len(report.stages)} reused; total {report.seconds:.1f} s",
        "",
        "| stage | layer | state | seconds | rows |",
        "| --- | --- | --- | ---: | --- |",
    ]
    lines += [
        f"| {row['stage']} | {row['layer']} | {row['state']} | {row['seconds']:.2f} | {row['rows']} |"
        for row in stage_rows(report, results)
    ]
    if report.reports:
        lines += ["", "## Report", ""] + [f"- `{layer}`: [{index}]({Path(index).as_uri()})" for layer, index in report.reports.items()]
    if report.examples:
        lines += ["", "## Example sentences", ""] + [f"- {sentence}" for sentence in report.examples]
    return "\n".join(lines) + "\n"


def publish_build_artifacts(report: BuildReport, results: Sequence[StageResult] = ()) -> bool:
    """Attach the stage table and the summary to the current run; False (and a warning) if the API refused."""
    reused = sum(record.reused for record in report.stages)
    description = (
        f"{report.backbone} {','.join(report.layers)}: test accuracy {report.metrics['test_accuracy']:.3f}; "
        f"{reused} of {len(report.stages)} stages reused"
    )
    return _publish(
        lambda artifacts: (
            artifacts.create_table_artifact(stage_rows(report, results), key=BUILD_STAGES_KEY, description=description),
            artifacts.create_markdown_artifact(summary_markdown(report, results), key=BUILD_SUMMARY_KEY, description=description),
        )
    )


def publish_explain_artifact(rows: list[dict[str, Any]]) -> bool:
    """Attach one row per explained image (image, class, probability, sentence) to the current run."""
    return _publish(lambda artifacts: artifacts.create_table_artifact(rows, key=EXPLAIN_KEY, description=f"{len(rows)} images explained"))


def _publish(create) -> bool:
    import httpx
    from prefect import artifacts
    from prefect.exceptions import PrefectException

    # The API refusing or unreachable (the run's real work is done; never fail it here): a refused
    # request is PrefectHTTPStatusError (an httpx.HTTPStatusError), no connection an httpx
    # ConnectError/timeout or an OSError from the socket, the API's own refusals PrefectException
    # (ObjectNotFound, ...). A ValueError (pydantic: a bad key or table) is our bug and propagates.
    try:
        create(artifacts)
    except (httpx.HTTPError, OSError, PrefectException) as error:
        _logger().warning("could not publish the run's artifacts (%s: %s)", type(error).__name__, error)
        return False
    return True


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """The run logger inside a flow run (so the warning shows in the UI), a module logger outside."""
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:  # outside a flow or task run
        return logging.getLogger(__name__)
