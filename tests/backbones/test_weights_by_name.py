"""torchvision weights by name (IMAGENET1K_V1, DEFAULT, …) from torchvision's own cache, never downloaded."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
import torchvision
from torchvision.models import ResNet50_Weights, SqueezeNet1_0_Weights

from filterspeak.backbones import registry
from filterspeak.backbones.registry import (
    IMAGENET_PREPROCESSING,
    BackboneError,
    BackboneSpec,
    Preprocessing,
    build_backbone,
    random_init_warning,
)
from filterspeak.errors import FilterSpeakError
from filterspeak.files import sha256_file

SQUEEZENET_FILE = "squeezenet1_0-b66bff10.pth"  # the file name of SqueezeNet1_0_Weights.IMAGENET1K_V1's url


class DownloadAttempted(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_download(monkeypatch, tmp_path):
    """Every test runs with an empty TORCH_HOME of its own and fails on any download attempt."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise DownloadAttempted(f"download attempted: {args}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "urlopen", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return calls


@pytest.fixture(scope="module")
def squeezenet_state() -> dict:
    torch.manual_seed(7)
    return torchvision.models.squeezenet1_0(weights=None).state_dict()


def _cache_file(name: str) -> Path:
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_url_file_name_is_what_torchvision_caches():
    assert Path(urlparse(SqueezeNet1_0_Weights.IMAGENET1K_V1.url).path).name == SQUEEZENET_FILE
    assert (
        registry.torchvision_cache_path(SqueezeNet1_0_Weights.IMAGENET1K_V1) == Path(torch.hub.get_dir()) / "checkpoints" / SQUEEZENET_FILE
    )
    assert str(registry.torchvision_cache_path(SqueezeNet1_0_Weights.IMAGENET1K_V1)).startswith(str(Path(torch.hub.get_dir())))


@pytest.mark.parametrize("name", ["IMAGENET1K_V1", "DEFAULT", "SqueezeNet1_0_Weights.IMAGENET1K_V1", "imagenet1k_v1"])
def test_weights_name_loads_the_cached_file(name, squeezenet_state, no_download, tmp_path):
    path = _cache_file(SQUEEZENET_FILE)
    torch.save(squeezenet_state, path)
    spec = BackboneSpec(architecture="squeezenet1_0", weights=name)
    assert spec.torchvision_weights is SqueezeNet1_0_Weights.IMAGENET1K_V1
    assert spec.weights_file() == path
    model = build_backbone(spec)
    loaded = model.state_dict()
    assert loaded.keys() == squeezenet_state.keys()
    assert all(torch.equal(loaded[key], squeezenet_state[key]) for key in squeezenet_state)
    assert not model.training
    digest = sha256_file(path)
    assert spec.sha256() == digest
    assert spec.name == f"squeezenet1_0-{digest[:8]}"
    assert spec.to_dict() == {"architecture": "squeezenet1_0", "weights_sha256": digest}
    local = tmp_path / "copy.pth"
    local.write_bytes(path.read_bytes())
    assert BackboneSpec(architecture="squeezenet1_0", weights=str(local)).to_dict() == spec.to_dict()  # keyed by content
    assert "get_state_dict" not in SqueezeNet1_0_Weights.__dict__  # the builder is left as torchvision made it
    assert no_download == []


def test_expected_sha256_applies_to_cached_weights(squeezenet_state):
    torch.save(squeezenet_state, _cache_file(SQUEEZENET_FILE))
    with pytest.raises(BackboneError, match=rf"weights file .*{re.escape(SQUEEZENET_FILE)} has sha256 [0-9a-f]{{64}}, expected 00ff"):
        build_backbone(BackboneSpec(architecture="squeezenet1_0", weights="DEFAULT", weights_sha256="00ff"))


def test_cached_file_for_another_architecture_is_refused_in_one_line():
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), _cache_file(SQUEEZENET_FILE))
    with pytest.raises(
        BackboneError,
        match=r"does not fit architecture squeezenet1_0: \d+ missing keys \(e\.g\. features\.0\.weight\), \d+ unexpected keys \(e\.g\. conv1\.weight\)",
    ) as error:
        build_backbone(BackboneSpec(architecture="squeezenet1_0", weights="IMAGENET1K_V1"))
    assert "\n" not in str(error.value)
    assert "get_state_dict" not in SqueezeNet1_0_Weights.__dict__


def test_unreadable_cached_file():
    _cache_file(SQUEEZENET_FILE).write_bytes(b"half a download")
    with pytest.raises(BackboneError, match=rf"cannot read weights file .*{re.escape(SQUEEZENET_FILE)} as a PyTorch state_dict"):
        build_backbone(BackboneSpec(architecture="squeezenet1_0", weights="IMAGENET1K_V1"))


def test_builder_follows_the_weights_metadata_for_old_densenet_keys():
    """torchvision's DenseNet checkpoints use the old `norm.1` keys its builder renames: they load by name."""
    torch.manual_seed(3)
    reference = torchvision.models.densenet121(weights=None).state_dict()
    old_style = {  # as torchvision's file: `norm.1`-style keys, and no num_batches_tracked (older BatchNorm)
        re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key): value
        for key, value in reference.items()
        if not key.endswith("num_batches_tracked")
    }
    assert any(".norm.1." in key for key in old_style)
    file_name = Path(urlparse(torchvision.models.DenseNet121_Weights.IMAGENET1K_V1.url).path).name
    torch.save(old_style, _cache_file(file_name))
    model = build_backbone(BackboneSpec(architecture="densenet121", weights="DEFAULT"))
    key = "features.denseblock1.denselayer1.norm1.weight"
    assert torch.equal(model.state_dict()[key], reference[key])


def test_not_cached_is_a_one_line_error_and_no_download(no_download):
    expected = Path(torch.hub.get_dir()) / "checkpoints" / "resnet50-0676ba61.pth"
    spec = BackboneSpec(architecture="resnet50", weights="IMAGENET1K_V1")
    message = (
        rf"^the weights IMAGENET1K_V1 \(ResNet50_Weights\.IMAGENET1K_V1\) for resnet50 are not in the torchvision cache "
        rf"\(expected {re.escape(str(expected))}\) and cannot be downloaded here; pass a local file \(--weights PATH\) instead"
    )
    with pytest.raises(BackboneError, match=message) as error:
        build_backbone(spec)
    assert "\n" not in str(error.value)
    assert isinstance(error.value, FilterSpeakError) and isinstance(error.value, ValueError)
    with pytest.raises(BackboneError, match="are not in the torchvision cache"):
        _ = spec.name
    with pytest.raises(BackboneError, match=r"the weights DEFAULT \(ResNet50_Weights\.IMAGENET1K_V2\) .*resnet50-11ad3fa6\.pth"):
        build_backbone(BackboneSpec(architecture="resnet50", weights="DEFAULT"))
    assert not expected.exists()
    assert no_download == []


@pytest.mark.parametrize("name", ["IMAGENET1K_V3", "ResNet18_Weights.IMAGENET1K_V1", "ResNet50_Weights.SWAG"])
def test_invalid_name_lists_the_valid_names(name):
    listing = rf"{re.escape(name)} is not a torchvision weights name for resnet50; valid names: IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT \(= IMAGENET1K_V2\)"
    spec = BackboneSpec(architecture="resnet50", weights=name)
    with pytest.raises(BackboneError, match=listing) as error:
        build_backbone(spec)
    assert "\n" not in str(error.value)
    with pytest.raises(BackboneError, match=listing):
        spec.default_preprocessing(224)


def test_neither_a_file_nor_a_name(tmp_path):
    with pytest.raises(
        BackboneError, match=r"weights file not found: .*mymodel \(nor a torchvision weights name for resnet18: IMAGENET1K_V1, DEFAULT\)"
    ):
        build_backbone(BackboneSpec(architecture="resnet18", weights=str(tmp_path / "mymodel")))
    with pytest.raises(BackboneError, match=r"weights file not found: mymodel \(nor a torchvision weights name"):
        build_backbone(BackboneSpec(architecture="resnet18", weights="mymodel"))
    with pytest.raises(
        BackboneError, match=r"weights file not found: IMAGENET1K_V1 \(torchvision weights names apply to torchvision architectures only\)"
    ):
        BackboneSpec(architecture="my_models:build", weights="IMAGENET1K_V1").sha256()


def test_an_existing_file_wins_over_a_name(tmp_path, monkeypatch, squeezenet_state):
    torch.save(squeezenet_state, _cache_file(SQUEEZENET_FILE))
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(11)
    local_state = torchvision.models.squeezenet1_0(weights=None).state_dict()
    torch.save(local_state, tmp_path / "DEFAULT")
    spec = BackboneSpec(architecture="squeezenet1_0", weights="DEFAULT")
    assert spec.torchvision_weights is None
    model = build_backbone(spec)
    assert torch.equal(model.state_dict()["features.0.weight"], local_state["features.0.weight"])
    assert not torch.equal(model.state_dict()["features.0.weight"], squeezenet_state["features.0.weight"])
    assert spec.sha256() == sha256_file(tmp_path / "DEFAULT")
    assert spec.default_preprocessing(64) == IMAGENET_PREPROCESSING


def test_preprocessing_follows_the_weights_transforms(tmp_path):
    imagenet = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    # nothing needs to be cached: the transforms are the weights' metadata
    assert BackboneSpec("efficientnet_b1", weights="DEFAULT").default_preprocessing(64) == Preprocessing(
        image_size=240, resize=255, **imagenet
    )
    assert BackboneSpec("efficientnet_b1", weights="IMAGENET1K_V1").default_preprocessing(64) == Preprocessing(
        image_size=240,
        resize=256,
        interpolation="bicubic",
        **imagenet,  # its transforms resize bicubic (V2: bilinear)
    )
    assert BackboneSpec("inception_v3", weights="IMAGENET1K_V1").default_preprocessing(64) == Preprocessing(
        image_size=299, resize=342, **imagenet
    )
    assert BackboneSpec("resnet50", weights="ResNet50_Weights.IMAGENET1K_V2").default_preprocessing(64) == Preprocessing(
        image_size=224, resize=232, **imagenet
    )
    assert BackboneSpec("efficientnet_v2_l", weights="DEFAULT").default_preprocessing(64) == Preprocessing(
        image_size=480, resize=480, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic"
    )
    for weights in (
        ResNet50_Weights.IMAGENET1K_V1,
        torchvision.models.EfficientNet_B1_Weights.DEFAULT,
        torchvision.models.VGG16_Weights.IMAGENET1K_FEATURES,
    ):
        transforms = weights.transforms()
        assert registry.preprocessing_from_weights(weights) == Preprocessing(
            image_size=transforms.crop_size[0], resize=transforms.resize_size[0], mean=tuple(transforms.mean), std=tuple(transforms.std)
        )
    local = tmp_path / "b1.pth"
    local.write_bytes(b"not read for preprocessing")
    assert BackboneSpec("efficientnet_b1", weights=str(local)).default_preprocessing(64) == IMAGENET_PREPROCESSING  # no metadata
    assert BackboneSpec("efficientnet_b1").default_preprocessing(64) == IMAGENET_PREPROCESSING
    assert BackboneSpec(width=8).default_preprocessing(64) == Preprocessing(image_size=64)


def test_random_initialisation_is_said_loudly(tmp_path):
    spec = BackboneSpec(architecture="alexnet")
    assert spec.is_random_init
    warning = random_init_warning(spec)
    assert warning is not None and "\n" not in warning
    assert warning.startswith("backbone alexnet has no weights: FilterSpeak will explain a RANDOMLY INITIALISED network (alexnet-random")
    assert "--weights FILE" in warning and "IMAGENET1K_V1" in warning and "for alexnet: IMAGENET1K_V1, DEFAULT" in warning
    swag = random_init_warning(BackboneSpec(architecture="vit_h_14"))
    assert "such as IMAGENET1K_SWAG_E2E_V1" in swag and "vit_h_14-random" in swag


def test_no_warning_with_weights_or_for_other_backbones(tmp_path):
    local = tmp_path / "w.pth"
    local.write_bytes(b"x")
    for spec in (
        BackboneSpec(architecture="alexnet", weights="IMAGENET1K_V1"),  # by name, cached or not
        BackboneSpec(architecture="alexnet", weights=str(local)),
        BackboneSpec(),  # the built-in is trained by the pipeline
        BackboneSpec(architecture="my_models:build"),  # a user builder may load its own weights
    ):
        assert not spec.is_random_init
        assert random_init_warning(spec) is None
