"""The test harness itself: a real moto S3 server that enforces credentials, and a real Dask cluster."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from services import DaskCluster, ServiceError

REPO = Path(__file__).resolve().parents[1]


def test_s3_round_trip_through_s3fs(s3_env, s3_bucket):
    import s3fs

    fs = s3fs.S3FileSystem()  # endpoint, keys and region all from the environment
    fs.pipe_file(f"{s3_bucket}/dir/a.bin", b"hello")
    assert fs.cat_file(f"{s3_bucket}/dir/a.bin") == b"hello"
    assert fs.ls(f"{s3_bucket}/dir", detail=False) == [f"{s3_bucket}/dir/a.bin"]
    fs.pipe_file(f"{s3_bucket}/once", b"1", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{s3_bucket}/once", b"2", mode="create")
    assert fs.cat_file(f"{s3_bucket}/once") == b"1"
    with pytest.raises(FileNotFoundError):
        fs.ls("no-such-bucket-anywhere")
    with pytest.raises(FileNotFoundError):
        fs.pipe_file("no-such-bucket-anywhere/x", b"1")


def test_s3_wrong_credentials_are_rejected(s3_server, s3_env, s3_bucket, monkeypatch):
    import s3fs

    good = s3fs.S3FileSystem()
    good.pipe_file(f"{s3_bucket}/k", b"v")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    assert s3fs.S3FileSystem() is good  # s3fs's instance cache ignores the environment: skip it to pick up new keys
    bad = s3fs.S3FileSystem(skip_instance_cache=True)
    with pytest.raises(PermissionError, match="signature we calculated does not match"):
        bad.ls(s3_bucket)
    with pytest.raises(PermissionError):
        bad.pipe_file(f"{s3_bucket}/k2", b"v")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    with pytest.raises(PermissionError, match="Access Key Id you provided does not exist"):
        s3fs.S3FileSystem(skip_instance_cache=True).ls(s3_bucket)
    assert not good.exists(f"{s3_bucket}/k2")


def _nap_then_pid():
    """A function the workers can run: they cannot import this module, and distributed pickles a module-level
    function by reference (even after cloudpickle.register_pickle_by_value), so it is made local: sent by value."""

    def pid_after_nap(_: int) -> int:
        time.sleep(0.3)
        return os.getpid()

    return pid_after_nap


def test_dask_cluster_runs_on_two_separate_workers(start_dask_cluster):
    cluster = start_dask_cluster(2, env={"SHARED_SETTING": "x"}, worker_env=lambda i, d: {"FILTERSPEAK_CACHE": str(d / "cache")})
    client = cluster.client()
    pids = set(client.gather(client.map(_nap_then_pid(), range(8))))
    assert pids == set(cluster.worker_pids()) and len(pids) == 2 and os.getpid() not in pids
    cwds = sorted(client.run(os.getcwd).values())
    assert cwds == [str(d) for d in cluster.worker_dirs]
    assert not any(Path(c).resolve().is_relative_to(REPO) for c in cwds)
    env = client.run(lambda: (os.environ.get("SHARED_SETTING"), os.environ.get("FILTERSPEAK_CACHE")))
    assert sorted(env.values()) == [("x", str(d / "cache")) for d in cluster.worker_dirs]


def test_dask_cluster_carries_on_after_a_worker_is_killed(start_dask_cluster):
    cluster = start_dask_cluster(2)
    client = cluster.client()
    killed = cluster.kill_worker(0)
    deadline = time.monotonic() + 10
    while len(client.scheduler_info(n_workers=-1)["workers"]) != 1:
        assert time.monotonic() < deadline, "the scheduler did not notice the killed worker"
        time.sleep(0.05)
    assert set(client.gather(client.map(_nap_then_pid(), range(3)))) == {cluster.worker_pids()[1]} != {killed}


def test_a_worker_that_cannot_start_raises_with_its_output(tmp_path):
    with pytest.raises(ServiceError, match=r"worker-0 exited before 1 workers connected[\s\S]*Fatal Python error"):
        DaskCluster(1, worker_env=[{"PYTHONHOME": str(tmp_path / "nowhere")}], root=tmp_path / "cluster", startup_timeout=30)
