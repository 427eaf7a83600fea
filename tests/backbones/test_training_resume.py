"""A killed training run resumes from its last finished epoch and ends with the same network."""

from __future__ import annotations

import pytest
import torch

from filterspeak.backbones import registry, training
from filterspeak.backbones.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from filterspeak.backbones.concepts import ConceptTargets
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from training_faults import killed_after_epoch

PREPROCESSING = Preprocessing(image_size=16)
SPEC = BackboneSpec(architecture="smallcnn", width=4, epochs=4, batch_size=16)


def _data(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 3
    images = torch.rand(count, 3, 16, 16, generator=generator)
    images[:, labels.numpy() % 3, :4, :4] += 0.5  # a corner tinted by the class
    return (images.clamp(0, 1) * 255).to(torch.uint8), labels


TRAIN, TEST = _data(48, 0), _data(12, 1)
CONCEPTS = ConceptTargets(("red crown", "blue wing"), (torch.arange(48)[:, None] % torch.tensor([2, 3]) == 0).float())


def _train(checkpoint=None, concepts=None) -> tuple[torch.nn.Module, training.TrainingResult]:
    torch.manual_seed(SPEC.train_seed)
    model = registry.build_backbone(SPEC, 3)
    result = training.train_classifier(
        model, SPEC, PREPROCESSING, TRAIN, TEST, torch.device("cpu"), progress=False, concepts=concepts, checkpoint=checkpoint
    )
    return model, result


@pytest.mark.parametrize("concepts", [None, CONCEPTS], ids=["classifier", "concept-filters"])
def test_a_killed_run_resumes_to_the_same_weights(tmp_path, capsys, concepts):
    uninterrupted, expected = _train(concepts=concepts)

    checkpoint = tmp_path / "training.pt"
    with killed_after_epoch(2):
        _train(checkpoint, concepts)
    assert load_checkpoint(checkpoint)["epochs_done"] == 2

    resumed, result = _train(checkpoint, concepts)
    assert "resuming after epoch 2 of 4" in capsys.readouterr().err  # progress goes to stderr
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    assert result == expected
    assert load_checkpoint(checkpoint)["epochs_done"] == 4


def test_a_corrupted_checkpoint_starts_over(tmp_path, capsys):
    _, expected = _train()
    checkpoint = tmp_path / "training.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    _, result = _train(checkpoint)
    assert "resuming" not in capsys.readouterr().err
    assert result == expected


def test_a_checkpoint_of_another_run_is_ignored(tmp_path, capsys):
    checkpoint = tmp_path / "training.pt"
    _train(checkpoint)
    other = BackboneSpec(architecture="smallcnn", width=4, epochs=5, batch_size=16)
    torch.manual_seed(0)
    training.train_classifier(
        registry.build_backbone(other, 3), other, PREPROCESSING, TRAIN, TEST, torch.device("cpu"), progress=False, checkpoint=checkpoint
    )
    assert "resuming" not in capsys.readouterr().err
    assert load_checkpoint(checkpoint)["epochs"] == 5


def test_a_checkpoint_of_the_same_run_that_does_not_fit_is_a_user_error(tmp_path):
    checkpoint = tmp_path / "training.pt"
    with killed_after_epoch(1):
        _train(checkpoint)
    state = load_checkpoint(checkpoint)
    state["model"] = {name: t[:1] if t.dim() else t for name, t in state["model"].items()}  # same spec and epochs, other shapes
    save_checkpoint(checkpoint, state)
    with pytest.raises(CheckpointError, match="does not fit .*delete it to start over"):
        _train(checkpoint)
