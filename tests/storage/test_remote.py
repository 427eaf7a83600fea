"""A store on object storage (a real S3 server: moto, enforcing credentials): stage outputs appear
only once complete, machines share them through their mirrors, the lease lock serialises builds,
work areas and the catalog live in the bucket, and SQL reads only the store's own objects."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import s3fs

from filterspeak.storage import locks
from filterspeak.storage.builds import BuildRecord, load_build_record, save_build_record
from filterspeak.storage.cache import lookup, run_stage, stage_key
from filterspeak.storage.catalog import publish, query, rebuild_catalog
from filterspeak.storage.paths import StoreError, StorePaths
from filterspeak.storage.schemas import I64, STR, table
from filterspeak.storage.shards import ShardArea

DECLARED = {"classes": table(("class_id", I64), ("name", STR))}


def _classes(names):
    def compute(output):
        output.write("classes", pd.DataFrame({"class_id": range(len(names)), "name": names}))

    return compute


@pytest.fixture
def store(s3_env, s3_bucket, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("FILTERSPEAK_CACHE", str(tmp_path / "machine-a"))
    return f"s3://{s3_bucket}/store"


def _other_machine(monkeypatch, tmp_path, store: str) -> StorePaths:
    """The same store seen from a machine with an empty mirror."""
    monkeypatch.setenv("FILTERSPEAK_CACHE", str(tmp_path / "machine-b"))
    return StorePaths.at(store)


def test_an_output_stored_on_one_machine_is_reused_on_another(store, tmp_path, monkeypatch):
    paths = StorePaths.at(store).ensure()
    assert paths.location == store and paths.root.is_relative_to(tmp_path / "machine-a")
    first = run_stage(paths, "demo", {"p": 1}, _classes(["cardinal", "jay"]), DECLARED)
    assert not first.reused
    other = _other_machine(monkeypatch, tmp_path, store).ensure()
    again = run_stage(other, "demo", {"p": 1}, pytest.fail, DECLARED)  # never computed again
    assert again.reused and again.directory.is_relative_to(tmp_path / "machine-b")
    assert again.read("classes")["name"].tolist() == ["cardinal", "jay"]
    assert again.manifest.content_hash == first.manifest.content_hash


def test_an_output_whose_upload_stopped_before_its_manifest_is_invisible(store, tmp_path, monkeypatch):
    paths = StorePaths.at(store).ensure()
    result = run_stage(paths, "demo", {"p": 1}, _classes(["cardinal"]), DECLARED)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
    manifest = paths.remote.key(f"{paths.relative(result.directory)}/manifest.json")
    fs.rm_file(manifest)  # as if the upload was killed before its last object
    other = _other_machine(monkeypatch, tmp_path, store)
    assert lookup(other, "demo", {"p": 1}) is None
    # the machine that stored it uploads it again on its next run
    assert run_stage(paths, "demo", {"p": 1}, pytest.fail, DECLARED).reused
    assert fs.exists(manifest)
    assert lookup(other, "demo", {"p": 1}) is not None


def test_an_output_missing_a_listed_file_in_the_bucket_is_invisible(store, tmp_path, monkeypatch):
    paths = StorePaths.at(store).ensure()
    result = run_stage(paths, "demo", {"p": 1}, _classes(["cardinal"]), DECLARED)
    s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False).rm_file(
        paths.remote.key(f"{paths.relative(result.table_path('classes'))}")
    )
    assert lookup(_other_machine(monkeypatch, tmp_path, store), "demo", {"p": 1}) is None


def test_build_records_and_the_catalog_are_read_from_the_bucket(store, tmp_path, monkeypatch):
    paths = StorePaths.at(store).ensure()
    result = run_stage(paths, "demo", {"p": 1}, _classes(["cardinal", "jay"]), DECLARED)
    save_build_record(paths, BuildRecord("net", "layer1", {"demo": result.manifest.fingerprint}, {}, "run-1"))
    publish(paths, [result])
    rebuild_catalog(paths, DECLARED)
    other = _other_machine(monkeypatch, tmp_path, store)
    assert load_build_record(other).stages == {"demo": result.manifest.fingerprint}
    assert query(other, "SELECT name FROM classes ORDER BY class_id").column("name").to_pylist() == ["cardinal", "jay"]
    assert not list(other.root.rglob("*.parquet"))  # the rows came from the bucket, not a copy here
    # a record removed from the bucket is gone for every machine
    s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False).rm_file(paths.remote.key("builds/net__layer1.json"))
    with pytest.raises(StoreError, match="available: none|no build"):
        load_build_record(other, "net")


def test_queries_read_only_the_store_own_objects(store, s3_bucket):
    paths = StorePaths.at(store).ensure()
    publish(paths, [run_stage(paths, "demo", {"p": 1}, _classes(["cardinal"]), DECLARED)])
    rebuild_catalog(paths, DECLARED)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
    with fs.open(f"{s3_bucket}/elsewhere/secret.parquet", "wb") as handle:
        pa.parquet.write_table(pa.table({"secret": [42]}), handle)
    with pytest.raises(StoreError, match="refused"):
        query(paths, f"SELECT * FROM read_parquet('s3://{s3_bucket}/elsewhere/secret.parquet')")
    own = query(paths, f"SELECT count(*) AS n FROM read_parquet('{store}/stages/demo/*/classes/data.parquet')")
    assert own.to_pylist() == [{"n": 1}]


def test_shard_areas_live_in_the_bucket(store, tmp_path, monkeypatch):
    paths = StorePaths.at(store).ensure()
    schema = pa.schema([("image_id", pa.int64())])
    key = stage_key("extract", {"p": 1})
    area = ShardArea.of(paths, "extract", key, schema)
    area.write(0, pa.table({"image_id": [1, 2]}), "items-0")
    area.save_plan({"method": "linear_gap"})
    assert not (area.directory / "shard-00000.parquet").exists()  # uploaded, not kept here
    elsewhere = ShardArea.of(_other_machine(monkeypatch, tmp_path, store), "extract", key, schema)
    assert elsewhere.is_done(0, "items-0") and not elsewhere.is_done(0, "other items") and not elsewhere.is_done(1, "items-1")
    assert elsewhere.read(0).column("image_id").to_pylist() == [1, 2] and elsewhere.load_plan() == {"method": "linear_gap"}
    # a shard whose object differs from its record (a foreign or truncated upload) is not done
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
    fs.pipe_file(paths.remote.key(f"{area.relative}/shard-00000.parquet"), b"PAR1")
    assert not elsewhere.is_done(0, "items-0")
    elsewhere.remove()
    assert not fs.exists(paths.remote.key(area.relative))


def test_two_builds_on_one_bucket_take_turns(store, tmp_path, monkeypatch):
    paths = StorePaths.at(store)
    order = []
    with locks.build_lock(paths, notify=order.append):
        assert "pid" in locks.running_build(paths)
        other = _other_machine(monkeypatch, tmp_path, store)
        with pytest.raises(StoreError, match="another build holds the store lock"), locks.build_lock(other, wait=False):
            pass

        def second() -> None:
            with locks.build_lock(other, notify=order.append):
                order.append("second holds it")

        waiting = threading.Thread(target=second)
        waiting.start()
        deadline = time.monotonic() + 30
        while not order and time.monotonic() < deadline:
            time.sleep(0.05)
        order.append("first releases it")
    waiting.join(timeout=30)
    assert [entry.split(" ")[0] for entry in order] == ["waiting", "first", "second"]
    assert locks.running_build(paths) is None  # released: the lease object is gone


def test_a_lease_left_by_a_killed_build_expires(store, monkeypatch):
    paths = StorePaths.at(store).ensure()
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.5)
    paths.remote.create(".build.lock", b'{"holder": "pid 1 on gone", "token": "x", "expires": %f}' % (time.time() + 0.5))
    assert locks.running_build(paths) == "pid 1 on gone"
    with locks.build_lock(paths, timeout=10, notify=lambda _message: None):
        assert locks.running_build(paths) != "pid 1 on gone"
    assert locks.running_build(paths) is None


def test_a_held_lease_is_renewed(store, monkeypatch):
    paths = StorePaths.at(store)
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.6)
    with locks.build_lock(paths):
        time.sleep(1.5)  # more than two lease periods: renewed, so still held
        assert locks.running_build(paths) is not None


def test_a_machine_fetches_only_the_files_it_names(store, tmp_path, monkeypatch):
    paths = StorePaths.at(store).ensure()

    def images(output):
        for name in ("a.png", "b.png", "c.png"):
            output.file(name, f"images/{name}").write_bytes(name.encode())
        output.write("classes", pd.DataFrame({"class_id": [0], "name": ["x"]}))

    result = run_stage(paths, "dataset", {"p": 1}, images, DECLARED)
    worker = _other_machine(monkeypatch, tmp_path, store)
    outside = str(tmp_path / "elsewhere.png")
    files = worker.files_of("dataset", result.manifest.fingerprint, ["images/b.png", outside])
    assert files[1] == outside and Path(files[0]).read_bytes() == b"b.png"
    assert sorted(p.name for p in worker.root.rglob("*.png")) == ["b.png"]  # not the whole output
    assert paths.files_of("dataset", result.manifest.fingerprint, ["images/c.png"]) == [str(result.directory / "images/c.png")]
