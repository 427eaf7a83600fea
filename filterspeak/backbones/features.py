"""Feature maps of one layer, reduced per filter, plus the model's predictions, in one pass."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from filterspeak.backbones.images import normalise
from filterspeak.backbones.registry import Preprocessing


class LayerNotFound(ValueError):
    pass


def layer_module(model: nn.Module, layer: str) -> nn.Module:
    """The submodule named `layer`; the error lists the valid names."""
    try:
        return model.get_submodule(layer)
    except AttributeError:
        names = [name for name, _ in model.named_modules() if name]
        raise LayerNotFound(f"layer {layer!r} not found; valid layers: {', '.join(names)}") from None


@dataclass
class BatchFeatures:
    feature_maps: torch.Tensor  # (B, F, H, W) on the CPU, float32
    logits: torch.Tensor  # (B, C)

    @property
    def max_response(self) -> torch.Tensor:
        return self.feature_maps.amax(dim=(2, 3))

    @property
    def mean_response(self) -> torch.Tensor:
        return self.feature_maps.mean(dim=(2, 3))


@torch.no_grad()
def forward_with_layer(
    model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device
) -> BatchFeatures:
    """Run uint8 `batch` through `model`, capturing `layer`'s output with a forward hook."""
    captured: list[torch.Tensor] = []
    handle = layer_module(model, layer).register_forward_hook(lambda _m, _i, output: captured.append(output))
    try:
        model.eval()
        logits = model(normalise(batch.to(device), preprocessing))
    finally:
        handle.remove()
    return BatchFeatures(feature_maps=captured[0].float().cpu(), logits=logits.float().cpu())
