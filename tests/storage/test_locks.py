"""Two builds on one store at once: the second waits for the first's lock; both end well."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from filterspeak.storage.catalog import query
from filterspeak.storage.locks import build_lock
from filterspeak.storage.paths import StoreError, StorePaths
from tiny_build import TINY, TINY_BACKBONE, cli_flags


def test_lock_refuses_or_waits_in_process(tmp_path):
    paths = StorePaths(tmp_path)
    messages = []
    with build_lock(paths):
        with pytest.raises(StoreError, match="another build holds the store lock"), build_lock(paths, wait=False):
            pass
        with pytest.raises(StoreError, match="timed out waiting"), build_lock(paths, timeout=0.6, notify=messages.append):
            pass
    assert messages and messages[0].startswith("waiting for another build")
    with build_lock(paths, wait=False):  # free again once released
        pass


def _says_it_waits(process: subprocess.Popen, log: Path, timeout: float = 120) -> bool:
    """Watch the process's output file until it says it waits for the lock (False if it ends or
    the timeout passes first). Output goes to a file, never an unread pipe that could fill up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = process.poll() is not None
        if "waiting for another build" in log.read_text(errors="replace"):  # a bare line, or one of the Prefect run log
            return True
        if ended:
            return False
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_two_concurrent_builds_on_one_store(tmp_path, prefect_env):
    """Both builds start while the store is locked (so both must wait, deterministically), then
    run one after the other; both end well and the tables hold both backbones, complete."""
    store = tmp_path / "store"
    command = [sys.executable, "-m", "filterspeak.flows.cli", "build", "--store", str(store), *cli_flags(TINY)]
    env = {**prefect_env, "PYTHONUNBUFFERED": "1"}  # both on the session's Prefect server
    logs = [tmp_path / f"build-seed{seed}.log" for seed in (0, 1)]
    processes: list[subprocess.Popen] = []
    try:
        with build_lock(StorePaths(store)):
            for seed, log in zip((0, 1), logs):
                with log.open("w") as output:  # the child keeps its own copy of the descriptor
                    processes.append(
                        subprocess.Popen(
                            [*command, "--train-seed", str(seed)],
                            stdout=output,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                            env=env,
                        )
                    )
            waited = [_says_it_waits(process, log) for process, log in zip(processes, logs)]  # until each says that it waits
        assert waited == [True, True], [log.read_text(errors="replace")[-3000:] for log in logs]
        seen = _query_while_running(StorePaths(store), processes)  # `sql` beside the builds: never a half state
        codes = [process.wait(timeout=600) for process in processes]
    finally:
        for process in processes:  # a failed assertion or a timeout leaves no build running
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    assert codes == [0, 0], [log.read_text(errors="replace")[-3000:] for log in logs]
    assert seen == sorted(seen, key=lambda n: -1 if n is None else n) and set(seen) <= {None, 0, 1, 2}  # 0, 1 then 2 builds
    rows = query(StorePaths(store), "SELECT backbone, count(*) AS n FROM explanations GROUP BY 1 ORDER BY 1").to_pylist()
    tests = query(StorePaths(store), "SELECT count(*) AS n FROM images WHERE split = 'test'").to_pylist()[0]["n"]
    assert [r["backbone"] for r in rows] == [TINY_BACKBONE, TINY.replace(train_seed=1).backbone_spec.name]
    assert all(r["n"] == tests for r in rows)  # both complete, nothing duplicated
    counts = query(StorePaths(store), "SELECT backbone, count(*) AS n FROM activations GROUP BY 1 ORDER BY 1").to_pylist()
    assert [r["n"] for r in counts] == [TINY.num_classes * TINY.images_per_class * 4 * TINY.width] * 2  # every image x filter, per backbone
    assert not any((store / "work").rglob("*.parquet"))  # no extraction shards left behind


def _query_while_running(paths: StorePaths, processes: list[subprocess.Popen]) -> list[int | None]:
    """Backbones in `explanations` as `filterspeak sql` sees them while the builds run (None: no
    catalog yet; the message says a build is running, or, in the instant before a waiting build
    takes the lock, to run one)."""
    seen: list[int | None] = []
    deadline = time.monotonic() + 600
    while any(process.poll() is None for process in processes):
        assert time.monotonic() < deadline, "the builds did not end within 600 s"
        try:
            seen.append(query(paths, "SELECT count(DISTINCT backbone) AS n FROM explanations").to_pylist()[0]["n"])
        except StoreError as error:
            assert str(error).startswith(f"no catalog at {paths.catalog}"), str(error)
            seen.append(None)
        time.sleep(0.5)
    return seen
