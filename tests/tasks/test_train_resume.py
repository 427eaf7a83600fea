"""The backbone stage trains with a checkpoint per epoch: a run that dies mid-training resumes from
the last finished epoch, stores the same weights as an uninterrupted run, then drops its checkpoint."""

from __future__ import annotations

from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.backbone import STAGE as BACKBONE
from stage_runs import run_backbone, run_dataset
from tiny_build import dataset_params
from training_faults import killed_after_epoch

STAGE = BACKBONE.name

SPEC = BackboneSpec(architecture="smallcnn", width=4, epochs=3)
PREPROCESSING = Preprocessing(image_size=32)
DATASET = dataset_params()  # the tiny build's


def _store(root):
    paths = StorePaths(root).ensure()
    return paths, run_dataset(paths, DATASET)


def test_killed_training_resumes_to_the_same_weights(tmp_path, capsys):
    reference = run_backbone(*_store(tmp_path / "reference"), SPEC, PREPROCESSING, device="cpu")

    paths, dataset = _store(tmp_path / "crashed")
    with killed_after_epoch(1):
        run_backbone(paths, dataset, SPEC, PREPROCESSING, device="cpu")
    assert [p.name for p in (paths.root / "work" / STAGE).glob("*/*")] == ["training.pt"]
    assert not list(paths.stages.glob(f"{STAGE}/*/manifest.json"))  # nothing stored, nothing published

    resumed = run_backbone(paths, dataset, SPEC, PREPROCESSING, device="cpu")
    assert "resuming after epoch 1 of 3" in capsys.readouterr().err  # progress goes to stderr
    assert resumed.manifest.fingerprint == reference.manifest.fingerprint
    assert resumed.metrics["weights_sha256"] == reference.metrics["weights_sha256"]
    assert resumed.metrics["test_accuracy"] == reference.metrics["test_accuracy"]
    assert not list((paths.root / "work" / STAGE).glob("*"))  # the checkpoint is dropped once the stage is stored
