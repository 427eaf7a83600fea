"""kill -9 during extraction, build again: the build resumes from the finished shards and every
table equals an uninterrupted build's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from filterspeak.storage.catalog import query
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.graph import TABLES, VIEWS, open_build
from tiny_build import TINY, cli_flags

CATALOG = [*(t for t in TABLES if t not in ("filter_responses", "filter_contributions")), *VIEWS, "runs"]  # every view of the
# catalog; the per-filter tables through their one-row-per-(image, filter) views `activations` and `contributions`

TESTS = Path(__file__).resolve().parents[1]  # crash_backbone.py: a user backbone whose forward can be slowed
LAYERS = ["2", "4"]  # gradient × activation and GAP + linear decisions, one pass
CRASHING = TINY.replace(backbone="crash_backbone:build", layer=",".join(LAYERS))  # the tiny data: 192 images, 3 shards of 64


def _command(store: Path) -> list[str]:
    return [sys.executable, "-m", "filterspeak.flows.cli", "build", "--store", str(store), *cli_flags(CRASHING)]


def _env(prefect_env: dict[str, str], sleep: float) -> dict[str, str]:
    """The session's Prefect server (a killed build leaves its run there, unfinished), the crash backbone importable."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return {**prefect_env, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", "CRASH_BACKBONE_SLEEP": str(sleep)}


def _build(store: Path, prefect_env: dict[str, str]) -> str:
    done = subprocess.run(_command(store), capture_output=True, text=True, env=_env(prefect_env, 0), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr  # the summary on stdout, progress ("resuming: ...") on stderr


def _records(store: Path) -> list[str]:
    return sorted(p.name for p in (store / "work" / "extract").glob("*/shard-*.json"))


def _kill_during_extraction(store: Path, prefect_env: dict[str, str]) -> None:
    """Start a build whose batches take 2 s each; SIGKILL it as soon as the first shard of every
    layer is stored, i.e. while the second shard is being computed."""
    process = subprocess.Popen(
        _command(store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(prefect_env, 2.0), start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        while len(_records(store)) < len(LAYERS):
            assert process.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline, "extraction never stored a shard"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tables(store: Path) -> dict[str, pd.DataFrame]:
    """Every catalog table, rows in a canonical order; image paths relative to the store."""
    paths = StorePaths(store)
    frames = {}
    for table in CATALOG:
        frame = query(paths, f"SELECT * FROM {table} ORDER BY ALL").to_pandas()
        if table in ("images", "failures_named"):  # the image's file, where this store is
            frame["path"] = [str(Path(p).relative_to(store)) for p in frame["path"]]
        if table == "runs":  # when and how long differ by nature; what ran must not
            frame = frame[["stage", "fingerprint", "backbone", "layer"]].sort_values(["stage", "layer", "fingerprint"], ignore_index=True)
        frames[table] = frame
    return frames


@pytest.mark.slow
def test_killed_extraction_resumes_to_identical_tables(tmp_path, prefect_env):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    _build(reference, prefect_env)

    _kill_during_extraction(crashed, prefect_env)
    assert _records(crashed) == ["shard-00000.json"] * len(LAYERS)  # killed mid-extraction, one shard in
    assert not list((crashed / "stages" / "extract").glob("*/manifest.json"))  # no extract output was stored
    assert not (crashed / "catalog.json").exists() and not (crashed / "catalog.duckdb").exists()  # nothing visible to SQL

    out = _build(crashed, prefect_env)
    assert "resuming: 1 of 3 shards done" in out
    for layer in LAYERS:
        assert open_build(StorePaths(crashed), layer=layer).result("extract").metrics["shards_resumed"] == 1
        assert open_build(StorePaths(reference), layer=layer).result("extract").metrics["shards_resumed"] == 0
    assert _records(crashed) == [] and _records(reference) == []  # work areas are cleared once stored

    ours, theirs = _tables(crashed), _tables(reference)
    assert len(ours["activations"]) == TINY.num_classes * TINY.images_per_class * (6 + 8) and len(ours["explanations"]) > 0
    for table in CATALOG:
        pd.testing.assert_frame_equal(ours[table], theirs[table], check_exact=True, obj=table)
    pointers = json.loads((crashed / "catalog.json").read_text())
    files = [entry["file"] for partitions in pointers.values() for entry in partitions.values()]  # relative to the store
    assert files and all(file.startswith("stages/") and (crashed / file).is_file() for file in files)
