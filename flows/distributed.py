"""The build's heavy work on a Dask cluster, through Prefect's DaskTaskRunner (prefect-dask).

`filterspeak build --dask tcp://host:8786` (the `dask` build option) hands extraction's shard jobs
to the cluster as mapped Prefect tasks: each worker loads the network once and keeps it
(tasks/extract_worker.compute_shard_job), writes its shards to the store's work area, and the
build process assembles the stage output from them as it does after a local pass. A worker that
dies mid-shard loses only that shard: Dask runs its task again on another worker, and a shard a
worker stored before dying is not computed twice. GPU workers are chosen with Dask resources:
start them with `dask worker ... --resources GPU=1` and the jobs ask for one GPU each
(`--dask-resources`).

The workers must reach the store: use a store on object storage (`--store s3://...`), or a folder
every worker mounts at the same path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.utilities.annotations import unmapped

from filterspeak.errors import FilterSpeakError

CONNECT_SECONDS = 10


def _apply(function: Callable[[Any], Any], job: Any) -> Any:
    return function(job)


# Retries cover a job that raised (a worker's transient storage error); a worker that dies is
# Dask's to handle: it runs the task again elsewhere (distributed.scheduler.allowed-failures).
SHARD_TASK = task(_apply, name="extract-shard", cache_policy=NO_CACHE, persist_result=False, retries=2, task_run_name="{job}")


class SchedulerError(FilterSpeakError, RuntimeError):
    """A Dask scheduler that cannot be reached; the message is user-facing."""


def check_scheduler(address: str, timeout: float = CONNECT_SECONDS) -> int:
    """The number of workers of the scheduler at `address`; a one-line SchedulerError when it cannot
    be reached (before any work starts)."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout, set_as_default=False) as client:
            return len(client.scheduler_info(n_workers=-1)["workers"])
    except (OSError, TimeoutError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {reason[:200]}") from None


class DaskShards:
    """A ShardRunner (tasks/stage.py) over a started DaskTaskRunner."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    def __getstate__(self) -> dict:
        """Prefect ships the calling task's context (its parameters: a stage's Context, this runner
        in it) with every task it submits; the runner's Dask client stays in this process."""
        return {"runner": None}

    def map(self, function: Callable[[Any], Any], jobs: list[Any], done: Callable[[Any], None]) -> list[Any]:
        if not jobs:
            return []
        futures = self.runner.map(SHARD_TASK, {"function": unmapped(function), "job": jobs})
        for future in as_completed(futures):
            done(future.result())  # raises the job's error once its retries are spent
        return [future.result() for future in futures]


@contextmanager
def shard_runner(address: str | None, resources: dict[str, float] | None = None) -> Iterator[DaskShards | None]:
    """A cluster's runner for the build's shard jobs while the block runs; None (run here) without one."""
    if not address:
        yield None
        return
    from prefect_dask import DaskTaskRunner

    runner = DaskTaskRunner(address=address)
    with runner:
        if resources:
            with _resources(resources):
                yield DaskShards(runner)
        else:
            yield DaskShards(runner)


@contextmanager
def _resources(resources: dict[str, float]) -> Iterator[None]:
    """Every task submitted in the block asks the workers for these Dask resources (e.g. GPU=1)."""
    import dask

    with dask.annotate(resources=resources):
        yield
