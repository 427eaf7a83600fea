"""Backbone registry, in the style of torchvision's model builders.

Three kinds of `BackboneSpec.architecture`:
- `smallcnn`: the built-in CNN, trained by the `train` stage on the dataset;
- any torchvision classification model name (`resnet50`, `squeezenet1_0`, …) with a local
  weights file (`weights`), loaded with `torch.load(weights_only=True)`;
- `package.module:function`: the user's own builder returning an nn.Module (+ optional weights).
A spec's identity (its fingerprint and `name`) covers the architecture and the weights file's
sha256, never its path.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from filterspeak.backbones.small_cnn import DEFAULT_LAYER as SMALL_CNN_LAYER
from filterspeak.backbones.small_cnn import SmallCNN
from filterspeak.storage.fingerprint import sha256_file

BUILT_IN = "smallcnn"
DEFAULT_EPOCHS = 20
RANDOM_INIT_SEED = 0  # a backbone named without weights is this seeded initialisation (`<arch>-random`)


class BackboneError(ValueError):
    """A backbone that cannot be built or loaded; the message is one line for the user."""


@dataclass(frozen=True)
class Preprocessing:
    """Image → tensor: resize (shorter side to `resize`, then centre-crop `image_size`; or straight
    to `image_size` when `resize` is None), scale to [0, 1], normalise."""

    image_size: int = 64
    resize: int | None = None
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)

    def to_dict(self) -> dict:
        return asdict(self)


IMAGENET_PREPROCESSING = Preprocessing(image_size=224, resize=256, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@dataclass(frozen=True)
class BackboneSpec:
    """Which network. `name` is its partition value (`backbone` column) in every table."""

    architecture: str = BUILT_IN
    weights: str | None = None  # local state_dict file (pretrained / user backbones)
    weights_sha256: str | None = None  # expected sha256 of `weights`, checked when given
    width: int = 16  # built-in only
    train_seed: int = 0  # built-in only
    epochs: int = DEFAULT_EPOCHS  # built-in only; 0 keeps the random initialisation
    batch_size: int = 64  # built-in only
    learning_rate: float = 1e-2  # built-in only
    concept_filters: int = 0  # built-in only: first K filters trained to detect K known attributes

    @property
    def trainable(self) -> bool:
        return self.architecture == BUILT_IN

    @property
    def name(self) -> str:
        if self.trainable:
            variant = (f"-e{self.epochs}" if self.epochs != DEFAULT_EPOCHS else "") + (
                f"-c{self.concept_filters}" if self.concept_filters else ""
            )
            return f"{self.architecture}-w{self.width}-s{self.train_seed}{variant}"
        short = self.architecture.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        return f"{short}-{self.sha256()[:8]}" if self.weights else f"{short}-random"

    @property
    def default_layer(self) -> str | None:
        return SMALL_CNN_LAYER if self.trainable else None

    def sha256(self) -> str:
        """sha256 of the weights file, checked against `weights_sha256` when that is given."""
        if not self.weights:
            raise BackboneError(f"backbone {self.architecture!r} has no weights file")
        path = Path(self.weights).expanduser()
        if not path.is_file():
            raise BackboneError(f"weights file not found: {path}")
        actual = sha256_file(path)
        if self.weights_sha256 and actual != self.weights_sha256.lower():
            raise BackboneError(f"weights file {path} has sha256 {actual}, expected {self.weights_sha256}")
        return actual

    def to_dict(self) -> dict:
        """Identity for fingerprints: training knobs for the built-in, the weights' hash otherwise."""
        if self.trainable:  # concept_filters only when set, so plain models keep their fingerprints
            return {
                k: v for k, v in asdict(self).items()
                if k not in ("weights", "weights_sha256") and not (k == "concept_filters" and not v)
            }
        return {"architecture": self.architecture, "weights_sha256": self.sha256() if self.weights else None}

    def default_preprocessing(self, image_size: int) -> Preprocessing:
        return Preprocessing(image_size=image_size) if self.trainable else IMAGENET_PREPROCESSING


def available_architectures() -> list[str]:
    return [BUILT_IN, *torchvision.models.list_models(module=torchvision.models)]


def _torchvision_model(name: str) -> nn.Module:
    names = torchvision.models.list_models(module=torchvision.models)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; use a torchvision classification model name or package.module:function"
        raise BackboneError(f"unknown backbone {name!r}{hint}")
    return torchvision.models.get_model(name, weights=None)


def _user_model(reference: str) -> nn.Module:
    module_name, _, function_name = reference.partition(":")
    try:
        builder = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise BackboneError(f"cannot import backbone builder {reference!r}: {error}") from None
    model = builder()
    if not isinstance(model, nn.Module):
        raise BackboneError(f"{reference} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_weights(model: nn.Module, spec: BackboneSpec) -> None:
    spec.sha256()  # existence and expected hash first
    try:
        state = torch.load(Path(spec.weights).expanduser(), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same one-line message
        raise BackboneError(f"cannot read weights file {spec.weights} as a PyTorch state_dict: {str(error).splitlines()[0]}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise BackboneError(f"weights file {spec.weights} holds a {type(state).__name__}, not a state_dict")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or mismatched:
        details = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong-shape", mismatched)):
            if keys:
                details.append(f"{len(keys)} {label} keys (e.g. {keys[0]})")
        raise BackboneError(f"weights file {spec.weights} does not fit architecture {spec.architecture}: {', '.join(details)}")
    model.load_state_dict(state)


def build_backbone(spec: BackboneSpec, num_classes: int | None = None) -> nn.Module:
    """The nn.Module for `spec`: untrained for the built-in (`num_classes` outputs), weights loaded otherwise."""
    if spec.trainable:
        if num_classes is None:
            raise BackboneError("the built-in backbone needs the number of classes")
        return SmallCNN(num_classes, spec.width)
    with torch.random.fork_rng(devices=[]):  # without weights: the same random network every time
        torch.manual_seed(RANDOM_INIT_SEED)
        model = _user_model(spec.architecture) if ":" in spec.architecture else _torchvision_model(spec.architecture)
    if spec.weights:
        _load_weights(model, spec)
    return model.eval()
