"""The build on a real Dask cluster (a scheduler and two `dask worker` processes, each in its own
temporary directory with its own mirror) with the store on a real S3 server (moto, enforcing
credentials), against the local single-process build of the same options: the tiny build, whose
local copy is the session's small store."""

from __future__ import annotations

import contextvars
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import s3fs

from filterspeak.flows.build import build
from filterspeak.flows.cli import main
from filterspeak.storage.catalog import query
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks import extract_plan
from filterspeak.tasks.graph import TABLES, VIEWS
from tiny_build import TINY

TESTS = Path(__file__).resolve().parents[1]  # crash_backbone.py: a user backbone whose forwards can be slowed
SLOW_SHARDS = TINY.replace(backbone="crash_backbone:build", layer="4")  # each forward sleeps on the workers (CRASH_BACKBONE_SLEEP)

# Every table of the catalog (the per-filter tables through their per-(image, filter) views); `runs`
# says when and how long, which differs by nature.
CATALOG = [*(t for t in TABLES if t not in ("filter_responses", "filter_contributions")), *VIEWS]
LOCATIONS = {"images": "path", "failures_named": "path", "backbones": "weights_path"}  # where the store is: compared relative to it


def _tables(paths: StorePaths, backbone: str) -> dict[str, pd.DataFrame]:
    """Every catalog table, rows in a canonical order: those of `backbone` where a table has several
    (other tests of the session evaluate the local store, which builds twins beside it)."""
    frames = {}
    for table in CATALOG:
        frame = query(paths, f"SELECT * FROM {table} ORDER BY ALL").to_pandas()
        if "backbone" in frame.columns:
            frame = frame[frame["backbone"] == backbone].reset_index(drop=True)
        if table in LOCATIONS:
            column = LOCATIONS[table]
            frame[column] = [None if v is None else str(v).removeprefix(paths.location + "/") for v in frame[column]]
        frames[table] = frame
    return frames


def _assert_same_tables(ours: StorePaths, theirs: StorePaths, backbone: str) -> None:
    mine, reference = _tables(ours, backbone), _tables(theirs, backbone)
    assert len(mine["activations"]) > 0 and len(mine["explanations"]) > 0
    for table in CATALOG:
        pd.testing.assert_frame_equal(mine[table], reference[table], check_exact=True, obj=table)


@pytest.fixture(scope="module")
def cluster_store(s3_server, tmp_path_factory, small_store):
    """The tiny build on S3 through --dask, and its cluster: (paths, cluster, report, the client's
    mirror). Every stage runs here against the bucket; each extraction shard is its own job
    (JOB_SHARDS, which changes no table), so that both workers get some of the tiny build's 3."""
    from services import DaskCluster

    client_cache = tmp_path_factory.mktemp("client-mirror")

    def worker_env(i: int, folder: Path) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
        return {**s3_server.env(), "FILTERSPEAK_CACHE": str(Path(folder) / "mirror"), "PYTHONPATH": path, "CRASH_BACKBONE_SLEEP": "1"}

    with pytest.MonkeyPatch.context() as patch:
        for key, value in s3_server.env().items():
            patch.setenv(key, value)
        patch.setenv("FILTERSPEAK_CACHE", str(client_cache))
        patch.setattr(extract_plan, "JOB_SHARDS", 1)
        bucket = s3_server.make_bucket(f"dist-{time.time_ns()}")
        cluster = DaskCluster(2, worker_env=worker_env)
        try:
            store = f"s3://{bucket}/store"
            report = build(store=store, options=TINY.replace(dask=cluster.address), progress=False)
            yield StorePaths.at(store), cluster, report, client_cache
        finally:
            cluster.stop()


@pytest.mark.slow
def test_the_tiny_build_on_dask_and_s3_equals_the_local_build(cluster_store, small_store):
    paths, cluster, report, client_cache = cluster_store
    assert paths.remote is not None and report.store == paths.location
    assert not any(record.reused for record in report.stages)  # every stage ran against the bucket
    _assert_same_tables(paths, StorePaths.at(small_store[0]), report.backbone)  # exact, every table

    # The shards ran on the workers, from the bucket: each worker mirrored the trained backbone it
    # loaded; neither the client's mirror nor the local store is named anywhere the workers wrote.
    for folder in cluster.worker_dirs:
        mirrors = list((Path(folder) / "mirror").iterdir())
        assert len(mirrors) == 1 and list((mirrors[0] / "stages" / "backbone").glob("*/model.pt"))
        for file in Path(folder).rglob("*"):
            if file.is_file() and file.suffix in (".json", ".log", ".txt"):
                text = file.read_text(errors="replace")
                assert str(client_cache) not in text and small_store[0] not in text
    assert sorted(Path(d).resolve() for d in cluster.client().run(lambda: __import__("os").getcwd()).values()) == sorted(
        Path(d).resolve() for d in cluster.worker_dirs
    )


@pytest.mark.slow
def test_a_worker_killed_mid_extraction_still_gives_the_same_tables(cluster_store, s3_server, tmp_path, monkeypatch):
    """A build whose shard jobs each take a second on the workers (a user backbone that sleeps in
    its forward there), and the worker running one of them SIGKILLed once the first shard is
    stored: Dask runs its job on the other worker, and the tables equal a local build's. (Each shard
    is its own job here, as cluster_store patched JOB_SHARDS for the module, so both workers have some.)"""
    paths, cluster, _report, client_cache = cluster_store
    reference = build(store=str(tmp_path / "local"), options=SLOW_SHARDS, progress=False)  # here: no sleep
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FILTERSPEAK_CACHE", str(client_cache))
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
    work = paths.remote.key("work/extract")
    client = cluster.client()
    outcome: dict = {}

    def run() -> None:
        try:  # latest=False: the tests below read the tiny build as the bucket's default
            outcome["report"] = build(store=paths.location, options=SLOW_SHARDS.replace(dask=cluster.address), progress=False, latest=False)
        except BaseException as error:  # reported by the assertion below
            outcome["error"] = error

    def running_a_shard() -> str | None:
        """The name of a worker running a job while extraction's work area holds a stored shard: a
        shard job after the first (which runs alone), since the work area is cleared once the stage
        is stored and nothing else runs on the cluster before then."""
        if not fs.glob(f"{work}/*/shard-*.json"):  # no listings cache: the workers write the shard records
            return None
        names = {worker["address"]: name for name, worker in cluster.scheduler_workers().items()}
        busy = [address for address, keys in client.processing().items() if keys]
        return names[busy[0]] if busy else None

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,))  # with the session's Prefect settings
    thread.start()
    deadline, victim = time.monotonic() + 600, None
    while time.monotonic() < deadline and thread.is_alive() and victim is None:
        victim = running_a_shard()
        time.sleep(0.1)
    assert victim is not None, outcome.get("error")
    cluster.kill_worker(int(victim.removeprefix("worker-")))
    thread.join(timeout=900)
    assert not thread.is_alive() and "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    extract = next(record for record in report.stages if record.stage == "extract")
    assert not extract.reused
    assert len(client.scheduler_info()["workers"]) == 1  # the rest ran on the survivor
    _assert_same_tables(paths, StorePaths.at(reference.store), report.backbone)


@pytest.mark.slow
def test_sql_answers_from_the_bucket_on_another_machine(cluster_store, s3_server, tmp_path, monkeypatch, capsys):
    paths, *_ = cluster_store
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FILTERSPEAK_CACHE", str(tmp_path / "fresh-mirror"))  # nothing of the build's here
    assert main(["sql", "--store", paths.location, "--format", "csv", "SELECT count(*) AS n FROM filter_attributes"]) == 0
    count = int(capsys.readouterr().out.split()[1])
    assert count == query(paths, "SELECT count(*) AS n FROM filter_attributes").to_pylist()[0]["n"] > 0
    assert not list((tmp_path / "fresh-mirror").rglob("*.parquet"))  # DuckDB read the Parquet in the bucket


@pytest.mark.parametrize("case", ["scheduler", "bucket", "credentials", "endpoint", "sql"])
def test_bad_inputs_are_one_line_errors_that_write_nothing(case, s3_env, s3_bucket, tmp_path, monkeypatch, capsys):
    from services import free_port

    mirror = tmp_path / "mirror"
    monkeypatch.setenv("FILTERSPEAK_CACHE", str(mirror))
    store = f"s3://{s3_bucket}/store"
    argv, says = {
        "scheduler": (["build", "--store", store, "--dask", f"tcp://127.0.0.1:{free_port()}"], "cannot reach the Dask scheduler"),
        "bucket": (["build", "--store", "s3://no-such-bucket-here/store"], "bucket 'no-such-bucket-here' does not exist"),
        "credentials": (["build", "--store", store], "access denied"),
        "endpoint": (["build", "--store", store], "check AWS_ENDPOINT_URL and the network"),  # the object store is down
        "sql": (["sql", "--store", f"{store}/nothing-here", "SELECT 1"], f"no catalog at {store}/nothing-here/catalog.duckdb"),
    }[case]
    if case == "credentials":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    if case == "endpoint":
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert says in error and len(error.strip().splitlines()) == 1, error
    for key in ("AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.setenv(key, s3_env[key])
    assert s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False).find(s3_bucket) == []  # nothing in the bucket
    assert not mirror.exists() or not [p for p in mirror.rglob("*") if p.is_file()]  # nor here


@pytest.mark.slow
def test_explain_and_evaluate_read_the_bucket_as_they_read_a_folder(cluster_store, small_store, s3_server, tmp_path, monkeypatch, capsys):
    from filterspeak.flows.evaluate import evaluate

    paths, *_ = cluster_store
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FILTERSPEAK_CACHE", str(tmp_path / "fresh-mirror"))
    local = small_store[0]
    image = query(StorePaths.at(local), "SELECT path FROM images WHERE split = 'test' ORDER BY image_id LIMIT 1").to_pylist()[0]["path"]
    sentences = []
    for store in (paths.location, local):
        assert main(["explain", "--store", store, "--json", "--device", "cpu", image]) == 0
        sentences.append(capsys.readouterr().out)
    assert sentences[0] == sentences[1] and "because" in sentences[0]
    ours, theirs = (evaluate(store=store, metrics=("retrieval",), device="cpu", progress=False) for store in (paths.location, local))
    assert ours.metrics == theirs.metrics and ours.metrics["retrieval_map"] > 0
    assert ours.context["store"] == paths.location
