"""The thin Prefect layer: one Prefect task per declared stage, named after it. No logic here.

Caching is the store's (content-addressed fingerprints), so Prefect's own cache is off and
results stay in memory: tasks pass StageResult manifests (paths + hashes), never arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from filterspeak.tasks.graph import STAGES
from filterspeak.tasks.stage import StageSpec


def _call(stage_call: Callable[[], Any]) -> Any:
    return stage_call()


TASKS = {spec.name: task(_call, name=spec.name, cache_policy=NO_CACHE, persist_result=False) for spec in STAGES}


def as_prefect_task(spec: StageSpec, call: Callable[[], Any]) -> Any:
    """Run `call` (one stage, or one pass over several layers) as the Prefect task of `spec`."""
    return TASKS[spec.name](call)
