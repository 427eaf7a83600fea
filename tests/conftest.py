"""Shared test setup: offline Prefect, one Prefect harness per session, one default synthetic build per
session (NLTK data: the copy in the package)."""

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
    """One temporary Prefect server for every test that runs a flow (~10 s, paid once; up to 2
    minutes allowed, as the CLI allows, since a loaded 2-core machine can exceed Prefect's 30 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def default_store(tmp_path_factory, prefect_harness):
    """The documented default build (~2.5 minutes on 2 CPU cores), shared by the quality, evaluation
    and distributed-build tests: (store, BuildReport)."""
    from filterspeak.flows.build import build
    from filterspeak.options import BuildOptions

    store = tmp_path_factory.mktemp("default-store") / "S"  # named as in the README's quick start (tests/test_quick_start.py)
    report = build(store=str(store), options=BuildOptions(device="cpu"), progress=False)
    return str(store), report
