import pandas as pd
import pytest

from filterspeak.storage.cache import run_stage
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import I64, STR, table

DECLARED = {"classes": table(("class_id", I64), ("name", STR))}


def _writer(calls, value=1):
    def compute(output):
        calls.append(value)
        output.write("classes", pd.DataFrame({"class_id": [0, 1], "name": ["a", f"b{value}"]}))
        output.metrics["value"] = value

    return compute


def test_second_run_reuses_and_changed_input_recomputes(tmp_path):
    paths = StorePaths(tmp_path).ensure()
    calls = []
    first = run_stage(paths, "demo", {"param": 1}, _writer(calls), DECLARED)
    again = run_stage(paths, "demo", {"param": 1}, _writer(calls), DECLARED)
    changed = run_stage(paths, "demo", {"param": 2}, _writer(calls, value=2), DECLARED)
    assert calls == [1, 2]
    assert (first.reused, again.reused, changed.reused) == (False, True, False)
    assert again.manifest.fingerprint == first.manifest.fingerprint != changed.manifest.fingerprint
    assert again.read("classes")["name"].tolist() == ["a", "b1"]
    assert first.content_hash != changed.content_hash
    # the old output stays intact next to the new one
    assert first.table_path("classes").exists() and changed.table_path("classes").exists()


def test_failed_stage_leaves_nothing_that_looks_complete(tmp_path):
    paths = StorePaths(tmp_path).ensure()

    def broken(output):
        output.write("classes", pd.DataFrame({"class_id": [0], "name": ["a"]}))
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="^killed$"):
        run_stage(paths, "demo", {"param": 1}, broken, DECLARED)
    assert not list((paths.stages / "demo").glob("*/manifest.json"))
    calls = []
    assert run_stage(paths, "demo", {"param": 1}, _writer(calls), DECLARED).reused is False
    assert calls == [1]


def test_identical_content_gives_identical_content_hash(tmp_path):
    paths = StorePaths(tmp_path).ensure()
    a = run_stage(paths, "demo", {"param": 1}, _writer([]), DECLARED)
    b = run_stage(paths, "demo", {"param": "other"}, _writer([]), DECLARED)
    assert a.manifest.fingerprint != b.manifest.fingerprint
    assert a.content_hash == b.content_hash


def test_schema_is_enforced(tmp_path):
    paths = StorePaths(tmp_path).ensure()

    def wrong(output):
        output.write("classes", pd.DataFrame({"class_id": [0]}))

    with pytest.raises(ValueError, match="missing columns"):
        run_stage(paths, "demo", {}, wrong, DECLARED)


def test_partial_outputs_of_killed_runs_are_removed(tmp_path):
    """`.<key>.<pid>.partial` of a process that is gone is deleted; a live process's is kept."""
    import subprocess

    from filterspeak.storage.cache import stage_key

    paths = StorePaths(tmp_path).ensure()
    key = stage_key("demo", {"param": 1})
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead = paths.stages / "demo" / f".{key}.{ended.pid}.partial"
    alive = paths.stages / "demo" / f".{key}.1.partial"  # pid 1 always runs
    for folder in (dead, alive):
        (folder / "classes").mkdir(parents=True)
    run_stage(paths, "demo", {"param": 1}, _writer([]), DECLARED)
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in (paths.stages / "demo").iterdir()) == sorted([key, alive.name])


def test_a_stage_writes_outside_its_output_only_into_the_caches_it_declares(tmp_path):
    paths = StorePaths(tmp_path).ensure()
    folders = []

    def thumbnails(output):
        folders.append(output.cache("thumbnails"))
        with pytest.raises(KeyError, match="'pictures' is not among the caches this stage declares: thumbnails"):
            output.cache("pictures")
        output.write("classes", pd.DataFrame({"class_id": [0], "name": ["a"]}))

    run_stage(paths, "demo", {"param": 1}, thumbnails, DECLARED, caches=("thumbnails",))
    assert folders == [paths.cache_dir("thumbnails")] == [tmp_path / "caches" / "thumbnails"]
    with pytest.raises(KeyError, match="declares: none"):
        run_stage(paths, "demo", {"param": 2}, thumbnails, DECLARED)
