"""Extraction is stored shard by shard: a run that dies mid-pass resumes from its finished
shards, and the stage output is identical to an uninterrupted run's."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import crash_backbone
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.storage.cache import load_stage_result
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.extract import STAGE as EXTRACT
from stage_runs import run_backbone, run_dataset, run_extract
from tiny_build import dataset_params

STAGE = EXTRACT.name

SPEC = BackboneSpec(architecture="crash_backbone:build")
PREPROCESSING = Preprocessing(image_size=64)
LAYERS = ["2", "4"]  # gradient × activation, and GAP + linear: both decision paths in one pass
BATCH = 64  # the tiny build's 192 images → 3 shards


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    paths = StorePaths(tmp_path_factory.mktemp("source")).ensure()
    dataset = run_dataset(paths, dataset_params())  # the tiny build's
    backbone = run_backbone(paths, dataset, SPEC, PREPROCESSING, device="cpu")
    return paths, dataset, backbone


def _copy(source, target) -> tuple:
    """A store holding only the source's dataset and backbone stages (the images stay in the source)."""
    paths, dataset, backbone = source
    shutil.copytree(paths.root / "stages", target / "stages", ignore=lambda folder, names: ["extract"] if folder.endswith("stages") else [])
    copy = StorePaths(target).ensure()
    return (
        copy,
        load_stage_result(copy, "dataset", dataset.manifest.fingerprint),
        load_stage_result(copy, "backbone", backbone.manifest.fingerprint),
    )


def _extract(store, dataset, backbone, head, workers=0):
    return run_extract(
        store, dataset, backbone, SPEC, PREPROCESSING, LAYERS, head=head, device="cpu", batch_size=BATCH, loader_workers=workers
    )


@pytest.mark.parametrize(
    "head, damage, workers",
    [
        ("model", None, 0),
        ("model", "corrupt first shard", 0),
        ("none", None, 0),
        ("none", "unrecorded shards", 2),  # decoded by worker processes, before and after the crash
    ],
)
def test_a_failed_pass_resumes_from_its_shards(source, tmp_path, monkeypatch, capsys, head, damage, workers):
    reference = _extract(*_copy(source, tmp_path / "reference"), head)

    store, dataset, backbone = _copy(source, tmp_path / "crashed")
    monkeypatch.setattr(crash_backbone, "forwards", 0)
    fail_at = 3 if head == "model" else 2
    monkeypatch.setenv("CRASH_BACKBONE_FAIL_AT", str(fail_at))  # dies computing the second shard
    with pytest.raises(crash_backbone.Fault, match=f"^injected failure on batch forward {fail_at}$"):
        _extract(store, dataset, backbone, head, workers)
    work = store.root / "work" / STAGE
    records = sorted(p.name for p in work.glob("*/shard-*.json"))
    assert records == ["shard-00000.json"] * len(LAYERS)  # the first shard of each layer, nothing more
    assert not list(store.stages.glob(f"{STAGE}/*/manifest.json"))  # no stage output: nothing to publish
    if damage == "corrupt first shard":
        next(work.glob("*/shard-00000.parquet")).write_bytes(b"half a file")
    if damage == "unrecorded shards":  # killed after writing a shard's file, before its record
        for area in work.iterdir():
            shutil.copyfile(area / "shard-00000.parquet", area / "shard-00001.parquet")  # a whole file, of other images
            (area / "shard-00002.parquet").write_bytes((area / "shard-00000.parquet").read_bytes()[:100])  # half a file

    monkeypatch.delenv("CRASH_BACKBONE_FAIL_AT")
    capsys.readouterr()
    resumed = _extract(store, dataset, backbone, head, workers)
    done = 0 if damage == "corrupt first shard" else 1
    assert [r.metrics["shards_resumed"] for r in resumed] == [done, done]
    assert [r.metrics["shards"] for r in resumed] == [3, 3]
    assert ("resuming: 1 of 3 shards done" in capsys.readouterr().err) == (done == 1)  # progress goes to stderr
    assert not any(work.iterdir())  # the work area is gone once the outputs are stored
    for ours, theirs in zip(resumed, reference):
        assert ours.manifest.fingerprint == theirs.manifest.fingerprint
        assert ours.content_hash == theirs.content_hash  # byte-identical tables
        tables = [output.table for output in ours.manifest.tables]
        assert tables == [output.table for output in theirs.manifest.tables]
        assert ("predictions" in tables) == (head == "model")
    if head == "model":
        assert [r.metrics["decomposition"] for r in resumed] == ["gradient_x_activation", "linear_gap"]
        for table in tables:
            pd.testing.assert_frame_equal(ours.read(table), theirs.read(table), check_exact=True)


def test_output_of_a_run_killed_after_storing_it_is_reused_and_its_leftovers_removed(source, tmp_path):
    store, dataset, backbone = _copy(source, tmp_path / "store")
    first = _extract(store, dataset, backbone, "model")
    leftover = store.work_dir(STAGE, first[0].manifest.fingerprint)
    leftover.mkdir(parents=True)
    (leftover / "shard-00000.json").write_text("{}")
    again = _extract(store, dataset, backbone, "model")
    assert all(r.reused for r in again) and not leftover.exists()
