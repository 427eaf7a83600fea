"""Backbone registry: a name → builder table, in the style of torchvision's model builders.

A `BackboneSpec` says which architecture, with which hyper-parameters; `build_backbone` makes
the nn.Module; the store decides the weights. Issue-4 backbones (torchvision, user modules)
register here too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
from torch import nn

from filterspeak.backbones.small_cnn import DEFAULT_LAYER as SMALL_CNN_LAYER
from filterspeak.backbones.small_cnn import SmallCNN


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes a tensor: resize to a square, scale to [0,1], normalise."""

    image_size: int = 64
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BackboneSpec:
    """A trainable built-in backbone. `name` is its partition value in every table."""

    architecture: str = "smallcnn"
    width: int = 16
    train_seed: int = 0
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-2

    @property
    def name(self) -> str:
        return f"{self.architecture}-w{self.width}-s{self.train_seed}"

    @property
    def default_layer(self) -> str:
        return _entry(self).default_layer

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Entry:
    builder: Callable[[int, BackboneSpec], nn.Module]
    default_layer: str
    head: str  # the nn.Linear that reads the global-average-pooled default layer


_REGISTRY: dict[str, _Entry] = {
    "smallcnn": _Entry(lambda num_classes, spec: SmallCNN(num_classes, spec.width), SMALL_CNN_LAYER, "classifier"),
}


def available_architectures() -> list[str]:
    return sorted(_REGISTRY)


def _entry(spec: BackboneSpec) -> _Entry:
    try:
        return _REGISTRY[spec.architecture]
    except KeyError:
        raise ValueError(
            f"unknown backbone {spec.architecture!r}; available: {', '.join(available_architectures())}"
        ) from None


def build_backbone(spec: BackboneSpec, num_classes: int) -> nn.Module:
    return _entry(spec).builder(num_classes, spec)


def linear_head(model: nn.Module, spec: BackboneSpec) -> tuple[np.ndarray, np.ndarray]:
    """(weights (C, F), bias (C,)) of the linear layer on top of global average pooling."""
    head = model.get_submodule(_entry(spec).head)
    return head.weight.detach().cpu().double().numpy(), head.bias.detach().cpu().double().numpy()
