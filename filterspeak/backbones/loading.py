"""The network of a stored build: the built-in backbone's trained weights from the store, any
other backbone from its verified weights file."""

from __future__ import annotations

from pathlib import Path

import torch

from filterspeak.backbones import registry
from filterspeak.backbones.registry import BackboneSpec


def load_model(spec: BackboneSpec, weights_file: Path | None, num_outputs: int) -> torch.nn.Module:
    """`weights_file`: the built-in backbone's trained state_dict (None for the others)."""
    if not spec.trainable:
        return registry.build_backbone(spec)
    model = registry.build_backbone(spec, num_outputs)
    model.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
    return model.eval()
