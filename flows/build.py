"""The `build` flow: the plain-Python build (`filterspeak.api.building.run_build`) with each stage
run as a Prefect task, extraction's shards on a Dask cluster when asked, and the stage table and
summary published as the run's artifacts. No logic of its own."""

from __future__ import annotations

from prefect import flow, get_run_logger

from filterspeak.api.building import BuildReport, run_build
from filterspeak.flows.artifacts import publish_build_artifacts
from filterspeak.flows.distributed import check_scheduler, shard_runner
from filterspeak.options import BuildOptions
from filterspeak.tasks.prefect_tasks import as_prefect_task

__all__ = ["BuildReport", "build"]


@flow(name="build", log_prints=True)
def build(
    store: str | None = None, options: BuildOptions | None = None, progress: bool = True, latest: bool = True, report: bool = True
) -> BuildReport:
    """Run every stage for one dataset × backbone × layer(s); reuse whatever is already built
    (see `run_build` for `latest` and `report`)."""
    options = options or BuildOptions()
    options.validate()
    if options.dask:
        check_scheduler(options.dask)  # one line before any work, also when a deployment runs the flow
    built = run_build(store, options, progress, latest, report, as_prefect_task, shard_runner, get_run_logger())
    publish_build_artifacts(built, built.results)  # the stage table and summary on the run's page
    return built
