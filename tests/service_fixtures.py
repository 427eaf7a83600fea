"""Pytest fixtures for the real services in services.py (a pytest plugin: `pytest_plugins = ["service_fixtures"]`).

s3_server           session: one IAM-enforcing moto server (~1.5 s); its logs in pytest's tmp dir
s3_env              function: the server's AWS variables set in os.environ (undone after the test), s3fs cache cleared
s3_bucket           function: a fresh, empty bucket's name
start_dask_cluster  function: factory start(workers=2, *, env=None, worker_env=None, **kwargs) -> DaskCluster;
                    every cluster it started is stopped after the test (a kill test damages its cluster)
dask_cluster        function: a 2-worker cluster from start_dask_cluster (~2.5 s)
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from services import DaskCluster, S3Server

REPO = Path(__file__).resolve().parents[1]


def _outside_repo(path: Path) -> Path:
    """`path`, or a fresh system temp dir when `path` is inside the repository (e.g. a --basetemp there)."""
    return Path(tempfile.mkdtemp(prefix="services-")) if path.resolve().is_relative_to(REPO) else path


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto server for the session that accepts only its own IAM key (s3_server.env())."""
    server = S3Server(auth=True, root=_outside_repo(tmp_path_factory.mktemp("moto")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point boto3/s3fs in this process at s3_server through the environment (AWS_ENDPOINT_URL is honoured).

    s3fs caches S3FileSystem instances by constructor arguments, not by environment: the cache is cleared here,
    and a test that changes credentials mid-way should use S3FileSystem(skip_instance_cache=True).
    """
    import s3fs

    env = s3_server.env()
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()
    yield env
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket on s3_server: its name."""
    return s3_server.make_bucket(f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def start_dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., DaskCluster]]:
    """start(workers=2, *, env=None, worker_env=None, **DaskCluster kwargs) -> DaskCluster; all stopped after the test."""
    started: list[DaskCluster] = []

    def start(workers: int = 2, *, env: dict[str, str] | None = None, worker_env: Any = None, **kwargs: Any) -> DaskCluster:
        root = _outside_repo(tmp_path_factory.mktemp("dask"))
        cluster = DaskCluster(workers, env=env, worker_env=worker_env, root=root, **kwargs)
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()


@pytest.fixture
def dask_cluster(start_dask_cluster: Callable[..., DaskCluster]) -> DaskCluster:
    """A scheduler and 2 single-threaded workers, no nanny, each worker in its own temp dir."""
    return start_dask_cluster(2)
