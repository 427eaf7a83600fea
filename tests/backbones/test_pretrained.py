"""Shipped weights for the built-in backbone (filterspeak/backbones/pretrained.py): which builds load
them, that the backbone stage loads them instead of training, that `--train` trains anyway, and that
scripts/shipped_weights.py makes exactly the file a `--train` build writes.

The mechanism is tested on the tiny build with a shipped entry made here by the script (one epoch of
training, no Prefect); the real entries are checked against their files and their record."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import pytest

from filterspeak.backbones import pretrained
from filterspeak.backbones.pretrained import SHIPPED, ShippedWeights, ShippedWeightsError
from filterspeak.backbones.registry import BackboneSpec
from filterspeak.files import sha256_file
from filterspeak.options import BuildOptions
from filterspeak.storage.paths import StorePaths
from stage_runs import run_backbone, run_dataset
from tiny_build import TINY, dataset_params

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("shipped_weights", REPO / "scripts" / "shipped_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the real entries ------------------------------------------------------------------------


def test_every_shipped_file_has_its_recorded_sha256_and_is_package_data():
    assert set(SHIPPED) == {"smallcnn-w16-s0", "smallcnn-w16-s0-c8", "smallcnn-w16-s0-cp4"}
    for entry in SHIPPED.values():
        assert entry.path.is_file() and sha256_file(entry.path) == entry.sha256 == entry.record["sha256"], entry.key
        assert entry.path.stat().st_size == entry.record["bytes"] < 400_000  # a few hundred KB
        assert entry.state_dict()["classifier.weight"].shape == (entry.dataset.num_classes + entry.dataset.confusable_pairs, 4 * 16)
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["filterspeak.backbones"]
    assert {"weights/*.pt", "weights/index.json"} <= set(package_data)


@pytest.mark.parametrize(
    ("changes", "shipped", "name"),
    [
        ({}, "smallcnn-w16-s0", "smallcnn-w16-s0"),
        ({"concept_filters": 8}, "smallcnn-w16-s0-c8", "smallcnn-w16-s0-c8"),
        ({"confusable_pairs": 4}, "smallcnn-w16-s0-cp4", "smallcnn-w16-s0"),
        ({"train": True}, "smallcnn-w16-s0", "smallcnn-w16-s0-trained"),  # trained: another name, both fit in a store
        ({"width": 32}, None, "smallcnn-w32-s0"),
        ({"train_seed": 1}, None, "smallcnn-w16-s1"),
        ({"epochs": 0}, None, "smallcnn-w16-s0-e0"),  # the evaluation's randomised twin: an initialisation, nothing to ship
        ({"dataset_seed": 1}, None, "smallcnn-w16-s0"),
        ({"confusable_pairs": 3}, None, "smallcnn-w16-s0"),
        ({"max_images_per_class": 10}, None, "smallcnn-w16-s0"),
        ({"width": 32, "train": True}, None, "smallcnn-w32-s0"),  # nothing shipped: --train changes nothing
    ],
)
def test_which_builds_load_shipped_weights(changes, shipped, name):
    spec = BuildOptions(**changes).backbone_spec
    assert (spec.shipped, spec.name) == (shipped, name)
    assert spec.loads_shipped == (shipped is not None and not changes.get("train", False))
    assert spec.weights_source == (
        "pretrained, shipped" if spec.loads_shipped else "random initialisation (0 epochs)" if changes == {"epochs": 0} else "trained"
    )


def test_the_fingerprint_of_a_trained_network_is_what_it_was_before_weights_were_shipped():
    """Stores built before keep their stages: a network without shipped weights is keyed as before,
    a trained one of a shipped network and the shipped one each get a key of their own."""
    assert BuildOptions(width=32).backbone_spec.to_dict() == {
        "architecture": "smallcnn",
        "width": 32,
        "train_seed": 0,
        "epochs": 20,
        "batch_size": 64,
        "learning_rate": 1e-2,
    }
    loaded, trained = BuildOptions().backbone_spec.to_dict(), BuildOptions(train=True).backbone_spec.to_dict()
    assert loaded == {"architecture": "smallcnn", "shipped": "smallcnn-w16-s0", "weights_sha256": SHIPPED["smallcnn-w16-s0"].sha256}
    assert trained["trained_over_shipped"] == "smallcnn-w16-s0" and trained != loaded


def test_train_is_an_on_off_flag_of_build():
    from filterspeak.flows.cli import _parser

    assert _parser().parse_args(["build", "--train"]).train is True
    assert _parser().parse_args(["build"]).train is False


# ---- the mechanism, on the tiny build ---------------------------------------------------------


@pytest.fixture
def shipped_tiny(tmp_path, monkeypatch) -> ShippedWeights:
    """A shipped entry for the tiny build, made by scripts/shipped_weights.py --write into a weights
    folder of this test (the real entries are set aside)."""
    entry = ShippedWeights("tiny", BackboneSpec(width=TINY.width, epochs=TINY.epochs), TINY.synthetic)
    monkeypatch.setattr(pretrained, "SHIPPED", {entry.key: entry})
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(pretrained, "INDEX", tmp_path / "weights" / "index.json")
    pretrained._index.cache_clear()
    assert _script().main(["--write", "--store", str(tmp_path / "made"), "--no-progress"]) == 0
    pretrained._index.cache_clear()
    yield entry
    pretrained._index.cache_clear()


def _backbone_stage(root: Path, options: BuildOptions):
    paths = StorePaths(root).ensure()
    dataset = run_dataset(paths, dataset_params(options))
    return run_backbone(paths, dataset, options.backbone_spec, options.preprocessing), dataset


def test_a_build_with_shipped_weights_loads_them_instead_of_training(shipped_tiny, tmp_path, capsys):
    record = json.loads(pretrained.INDEX.read_text())["tiny"]
    assert TINY.backbone_spec.shipped == "tiny" and TINY.backbone_spec.name == "smallcnn-w4-s0-e1"
    capsys.readouterr()
    backbone, dataset = _backbone_stage(tmp_path / "store", TINY)
    assert "train " not in capsys.readouterr().err  # no training ran (its progress lines say "train <backbone>")
    metrics = backbone.metrics
    assert metrics["weights_source"] == "pretrained, shipped" and metrics["shipped"] == "tiny"
    assert metrics["weights_sha256"] == record["sha256"] == sha256_file(backbone.file_path("weights"))  # the file, copied
    assert metrics["shipped_dataset_matches"] is True and record["pixels_hash"] == dataset.metrics["pixels_hash"]
    # the same network on the same images in the same process as when the record was made: the same accuracy
    assert metrics["test_accuracy"] == record["test_accuracy"] and metrics["train_accuracy"] == record["train_accuracy"]
    assert record["trained_with"]["torch"] and record["trained_with"]["cpu"]


def test_train_trains_the_shipped_network_again_and_the_script_makes_its_file(shipped_tiny, tmp_path):
    """`--train` trains (another name); on the machine that made the shipped file, training is
    deterministic, so the script's check finds the same bytes (on another CPU kind it may not)."""
    trained, _ = _backbone_stage(tmp_path / "store", TINY.replace(train=True))
    assert trained.metrics["backbone"] == "smallcnn-w4-s0-e1-trained" and trained.metrics["weights_source"] == "trained"
    assert trained.metrics["weights_sha256"] == shipped_tiny.sha256
    assert _script().main(["--store", str(tmp_path / "check"), "--no-progress"]) == 0  # --check: the same sha256


def test_damaged_or_missing_shipped_weights_are_one_line(shipped_tiny, tmp_path):
    data = bytearray(shipped_tiny.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shipped_tiny.path.write_bytes(bytes(data))
    with pytest.raises(
        ShippedWeightsError, match=r"^the shipped weights file .*tiny\.pt has sha256 \w+, recorded \w+: reinstall"
    ) as raised:
        _backbone_stage(tmp_path / "damaged", TINY)
    assert "\n" not in str(raised.value)
    shipped_tiny.path.unlink()
    with pytest.raises(
        ShippedWeightsError, match=r"^the shipped weights file .*tiny\.pt is missing: reinstall filterspeak, or build with --train$"
    ):
        _backbone_stage(tmp_path / "missing", TINY)


def test_shipped_weights_for_other_classes_are_refused_in_one_line(shipped_tiny, tmp_path, monkeypatch):
    """An entry whose file does not fit its dataset (a mistake in SHIPPED) fails before anything is stored."""
    other = TINY.replace(num_classes=13)
    wrong = ShippedWeights("tiny", shipped_tiny.network, other.synthetic)
    monkeypatch.setattr(pretrained, "SHIPPED", {"tiny": wrong})
    with pytest.raises(
        ShippedWeightsError, match=r"^the shipped weights tiny are for 12 classes; this dataset has 13: build with --train$"
    ):
        _backbone_stage(tmp_path / "store", other)
    assert not list((tmp_path / "store" / "stages").glob("backbone/*/manifest.json"))
