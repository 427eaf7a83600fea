"""One default synthetic build per test session, shared by the quality and evaluation tests."""

from __future__ import annotations

import pytest

from filterspeak.flows.build import BuildReport, build
from filterspeak.options import BuildOptions


@pytest.fixture(scope="session")
def default_store(tmp_path_factory, prefect_harness) -> tuple[str, BuildReport]:
    """The documented default build (~2.5 minutes on 2 CPU cores)."""
    store = tmp_path_factory.mktemp("default-store")
    report = build(store=str(store), options=BuildOptions(device="cpu"), progress=False)
    return str(store), report
