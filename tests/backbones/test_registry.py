"""Backbone registry: names, weights files and their one-line errors."""

from __future__ import annotations

import pytest
import torch
import torchvision

from filterspeak.backbones.registry import BackboneError, BackboneSpec, build_backbone


def test_torchvision_backbone_loads_a_local_weights_file(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.squeezenet1_0(weights=None)
    path = tmp_path / "squeeze.pth"
    torch.save(reference.state_dict(), path)
    spec = BackboneSpec(architecture="squeezenet1_0", weights=str(path))
    model = build_backbone(spec)
    assert torch.equal(model.features[0].weight, reference.features[0].weight)
    assert spec.name == f"squeezenet1_0-{spec.sha256()[:8]}"
    identity = spec.to_dict()
    assert identity == {"architecture": "squeezenet1_0", "weights_sha256": spec.sha256()}
    moved = tmp_path / "moved.pth"
    path.rename(moved)
    assert BackboneSpec(architecture="squeezenet1_0", weights=str(moved)).to_dict() == identity  # keyed by content


def test_weights_for_another_architecture(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(BackboneError, match=r"does not fit architecture squeezenet1_0: \d+ missing keys") as error:
        build_backbone(BackboneSpec(architecture="squeezenet1_0", weights=str(path)))
    assert "\n" not in str(error.value)


def test_missing_weights_file(tmp_path):
    with pytest.raises(BackboneError, match="weights file not found: .*nowhere.pth"):
        build_backbone(BackboneSpec(architecture="resnet18", weights=str(tmp_path / "nowhere.pth")))


def test_expected_sha256_is_checked(tmp_path):
    path = tmp_path / "w.pth"
    torch.save(torchvision.models.squeezenet1_0(weights=None).state_dict(), path)
    with pytest.raises(BackboneError, match="expected 00ff"):
        build_backbone(BackboneSpec(architecture="squeezenet1_0", weights=str(path), weights_sha256="00ff"))


def test_not_a_state_dict_is_refused_without_unpickling_code(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(torchvision.models.squeezenet1_0(weights=None), path)  # a whole pickled module
    with pytest.raises(BackboneError, match="cannot read weights file"):
        build_backbone(BackboneSpec(architecture="squeezenet1_0", weights=str(path)))


def test_unknown_architecture_suggests_names():
    with pytest.raises(BackboneError, match="did you mean resnet50"):
        build_backbone(BackboneSpec(architecture="resnet5O"))


def test_user_builder(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "import torch\n"
        "def build():\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = build_backbone(BackboneSpec(architecture="my_models:build"))
    assert isinstance(model[3], torch.nn.Linear)
    assert BackboneSpec(architecture="my_models:build").name == "build-random"
    with pytest.raises(BackboneError, match="cannot import backbone builder"):
        build_backbone(BackboneSpec(architecture="my_models:missing"))


def test_backbone_error_is_a_user_error():
    from filterspeak.errors import FilterSpeakError

    with pytest.raises(FilterSpeakError, match="unknown backbone 'resnet5O'"):
        build_backbone(BackboneSpec(architecture="resnet5O"))
    assert issubclass(BackboneError, ValueError)


def test_local_file_keeps_the_imagenet_preprocessing(tmp_path):
    from filterspeak.backbones.registry import IMAGENET_PREPROCESSING

    path = tmp_path / "squeeze.pth"
    torch.save(torchvision.models.squeezenet1_0(weights=None).state_dict(), path)
    preprocessing = BackboneSpec(architecture="squeezenet1_0", weights=str(path)).default_preprocessing(64)
    assert preprocessing == IMAGENET_PREPROCESSING
    assert (preprocessing.image_size, preprocessing.resize) == (224, 256)
