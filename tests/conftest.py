"""Shared test setup: offline Prefect, one Prefect server per session (for in-process flows and for
the builds tests start as subprocesses), and two session stores (NLTK data: the copy in the package):

- `small_store`: the tiny build (tests/tiny_build.py), for tests that need a build but not its quality;
- `default_store`: the documented default build (shipped weights; its build time is the one the
  README's quick start states), for the tests whose figures must be the documented ones (the quick
  start, the quality checks, the evaluation).

Every test that builds a store, or uses one of these, is marked `slow`; `pytest -m "not slow"` is
the inner loop (docs/layout.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["service_fixtures"]  # s3_server, s3_env, s3_bucket, start_dask_cluster, dask_cluster (tests/services.py)
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the session (~10 s, paid once; up to 2 minutes allowed, as the
    CLI allows, since a loaded 2-core machine can exceed Prefect's 30 s): every flow run in this
    process uses it, and so do the subprocess builds given `prefect_env`. Yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def prefect_env(prefect_harness) -> dict[str, str]:
    """The environment for a `filterspeak` subprocess that runs a flow: the session's Prefect server,
    instead of a temporary server of its own (~6 s each). tests/test_quick_start.py keeps the
    temporary-server path, as a user without PREFECT_API_URL meets it."""
    return {**os.environ, "PREFECT_API_URL": prefect_harness}


@pytest.fixture(scope="session")
def small_store(tmp_path_factory, prefect_harness):
    """The tiny build (tests/tiny_build.py), once per session: (store, BuildReport). Tests read it
    and must not add builds to it (its latest build is what `explain` and `search` pick)."""
    from filterspeak.flows.build import build
    from tiny_build import TINY

    store = tmp_path_factory.mktemp("small-store") / "S"
    return str(store), build(store=str(store), options=TINY, progress=False)


@pytest.fixture(scope="session")
def default_store(tmp_path_factory, prefect_harness):
    """The documented default build, shared by the quick start, quality and evaluation tests:
    (store, BuildReport). Its backbone loads the shipped weights, so its figures are the README's."""
    from filterspeak.flows.build import build
    from filterspeak.options import BuildOptions

    store = tmp_path_factory.mktemp("default-store") / "S"  # named as in the README's quick start (tests/test_quick_start.py)
    report = build(store=str(store), options=BuildOptions(device="cpu"), progress=False)
    return str(store), report
