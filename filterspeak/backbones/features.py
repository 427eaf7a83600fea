"""Running a backbone: one layer's feature maps, the model's logits, and per-filter contributions.

Three ways through the network:
- `forward_to_layer`: stop as soon as the layer has run (a trained head reads only its GAP);
- `forward_with_layer`: the whole model, capturing the layer (its own head decides);
- `forward_with_gradients`: the same plus ∂logit_ĉ/∂A, for gradient × activation when the
  head is not a global-average-pool + linear layer.
`linear_gap_head` finds out which case applies by checking the logits numerically.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from filterspeak.backbones.images import normalise
from filterspeak.backbones.registry import Preprocessing


class LayerNotFound(ValueError):
    pass


class _LayerReached(Exception):
    pass


def layer_names(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_modules() if name]


def layer_module(model: nn.Module, layer: str) -> nn.Module:
    """The submodule named `layer`; the one-line error lists the valid names."""
    try:
        return model.get_submodule(layer)
    except AttributeError:
        raise LayerNotFound(f"layer {layer!r} not found; valid layers: {', '.join(layer_names(model))}") from None


@dataclass
class BatchFeatures:
    feature_maps: torch.Tensor  # (B, F, H, W) on the CPU, float32
    logits: torch.Tensor | None = None  # (B, C), None when the forward stopped at the layer
    contributions: torch.Tensor | None = None  # (B, F) gradient × activation toward the predicted class

    @property
    def max_response(self) -> torch.Tensor:
        return self.feature_maps.amax(dim=(2, 3))

    @property
    def mean_response(self) -> torch.Tensor:
        return self.feature_maps.mean(dim=(2, 3))


def _check_maps(output: torch.Tensor, layer: str) -> torch.Tensor:
    if not isinstance(output, torch.Tensor) or output.dim() != 4:
        raise LayerNotFound(f"layer {layer!r} does not output (batch, filters, height, width) feature maps")
    return output


@torch.no_grad()
def forward_to_layer(model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device) -> BatchFeatures:
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        captured.append(_check_maps(output, layer))
        raise _LayerReached

    handle = layer_module(model, layer).register_forward_hook(hook)
    try:
        model.eval()
        model(normalise(batch.to(device), preprocessing))
    except _LayerReached:
        pass
    finally:
        handle.remove()
    return BatchFeatures(feature_maps=captured[0].float().cpu())


@torch.no_grad()
def forward_with_layer(model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device) -> BatchFeatures:
    captured: list[torch.Tensor] = []
    handle = layer_module(model, layer).register_forward_hook(lambda _m, _i, output: captured.append(_check_maps(output, layer).clone()))
    try:
        model.eval()
        logits = model(normalise(batch.to(device), preprocessing))
    finally:
        handle.remove()
    return BatchFeatures(feature_maps=captured[0].float().cpu(), logits=logits.float().cpu())


def forward_with_gradients(model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device) -> BatchFeatures:
    """α_f(x) = Σ_hw A_f(x)[h,w] · ∂logit_ĉ/∂A_f[h,w] for the predicted class ĉ."""
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        maps = _check_maps(output, layer)
        maps.retain_grad()
        captured.append(maps)
        return maps.clone()  # later in-place ops must not touch the captured maps

    handle = layer_module(model, layer).register_forward_hook(hook)
    try:
        model.eval()
        with torch.enable_grad():
            logits = model(normalise(batch.to(device), preprocessing).requires_grad_(True))
            chosen = logits.argmax(dim=1)
            logits.gather(1, chosen[:, None]).sum().backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    maps = captured[0]
    contributions = (maps * maps.grad).sum(dim=(2, 3))
    return BatchFeatures(
        feature_maps=maps.detach().float().cpu(), logits=logits.detach().float().cpu(), contributions=contributions.detach().float().cpu()
    )


def linear_gap_head(model: nn.Module, features: BatchFeatures, tolerance: float = 1e-3) -> nn.Linear | None:
    """The nn.Linear whose output on GAP(layer) *is* the model's logits, if there is one.

    Checked numerically on a batch, so it holds for any architecture (ResNet's fc after avgpool,
    our SmallCNN's classifier) and fails, correctly, for conv heads (SqueezeNet) or MLP heads (VGG).
    """
    gap = features.mean_response
    logits = features.logits
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.in_features == gap.shape[1] and module.out_features == logits.shape[1]:
            with torch.no_grad():
                predicted = nn.functional.linear(gap.to(module.weight.device), module.weight, module.bias).float().cpu()
            if torch.allclose(predicted, logits, atol=tolerance * max(1.0, logits.abs().max().item()), rtol=0):
                return module
    return None
