"""Running a backbone: one layer's feature maps, the model's logits, and per-filter contributions.

Three ways through the network (`forward_layers`, for one or several layers in one pass):
- "to_layers": stop as soon as the layers have run (a trained head reads only their GAP);
- "full": the whole model, capturing the layers (its own head decides);
- "gradients": the same plus ∂logit_ĉ/∂A, for gradient × activation when the head is not a
  global-average-pool + linear layer.
`linear_gap_head` finds out which case applies by checking the logits numerically.

`forward_layers` returns whole feature maps (grounding and `explain` need them); extraction uses
`forward_reduced`, which reduces the maps where they are computed, so only (batch × filters)
numbers (and the logits) leave the device, and gives exactly the same numbers as reducing
`forward_layers`' maps on the CPU.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from filterspeak.backbones.images import normalise
from filterspeak.backbones.quantised_maps import QuantisedMaps, quantise
from filterspeak.backbones.registry import Preprocessing
from filterspeak.errors import FilterSpeakError
from filterspeak.interpret.responses import GAP, RESPONSES


class LayerNotFound(FilterSpeakError, ValueError):
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

    def responses(self) -> dict[str, torch.Tensor]:
        """Every declared response s_f(x), (B, F) each, by `activations` column."""
        return reduce_maps(self.feature_maps)

    @property
    def gap(self) -> torch.Tensor:
        """(B, F) global average pool: what a GAP + linear head decides from."""
        return GAP.reduce(self.feature_maps)


def reduce_maps(maps: torch.Tensor) -> dict[str, torch.Tensor]:
    """(B, F, H, W) maps → every declared response s_f(x), (B, F) each, by `activations` column."""
    return {response.column: response.reduce(maps) for response in RESPONSES.values()}


@dataclass
class ReducedFeatures:
    """One layer's results for a batch, reduced on the device (see `forward_reduced`).

    On CUDA the tensors may still be on their way to the CPU: `wait()` before reading them."""

    responses: dict[str, torch.Tensor]  # every declared response s_f(x), (B, F) float32, by `activations` column
    logits: torch.Tensor | None = None  # (B, C) float32, None when the forward stopped at the layer
    contributions: torch.Tensor | None = None  # (B, F) gradient × activation toward the predicted class
    maps: QuantisedMaps | None = None  # the maps themselves, 8 bits per value (with keep_maps)
    copied: torch.cuda.Event | None = None  # recorded after the copies to the CPU were queued

    @property
    def gap(self) -> torch.Tensor:
        """(B, F) global average pool: what a GAP + linear head decides from."""
        return self.responses[GAP.column]

    def wait(self) -> ReducedFeatures:
        if self.copied is not None:
            self.copied.synchronize()
            self.copied = None
        return self


def _check_maps(output: torch.Tensor, layer: str) -> torch.Tensor:
    if not isinstance(output, torch.Tensor) or output.dim() != 4:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise LayerNotFound(
            f"layer {layer!r} outputs {shape}, not (batch, filters, height, width) feature maps: choose a convolutional layer"
        )
    return output


def check_layers(model: nn.Module, layers: list[str], size: int) -> None:
    """Every layer exists and outputs feature maps, checked on one blank `size`² image (a forward
    that stops at the last layer): a one-line error before any work, not in the middle of extraction."""
    for layer in layers:
        layer_module(model, layer)
    capture = _Capture(model, layers, stop=True)
    try:
        _run(
            model,
            capture,
            torch.zeros(1, 3, size, size, device=next(model.parameters(), torch.zeros(0)).device),
            "to_layers",
            torch.no_grad,
        )
    except LayerNotFound:
        raise
    except Exception as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise LayerNotFound(f"the model fails on a {size}×{size} input before reaching {', '.join(layers)}: {message}") from None


class _Capture:
    """Forward hooks on several layers; with `stop`, the forward ends once all have run. With
    `reduce`, each layer's responses are computed in its hook, and its maps are kept only when
    gradients need them."""

    def __init__(
        self,
        model: nn.Module,
        layers: list[str],
        stop: bool = False,
        gradients: bool = False,
        reduce: bool = False,
        keep_maps: bool = False,
    ) -> None:
        self.maps: dict[str, torch.Tensor] = {}
        self.responses: dict[str, dict[str, torch.Tensor]] = {}
        self.quantised: dict[str, QuantisedMaps] = {}
        self._keep_maps = keep_maps
        self._handles = [
            layer_module(model, layer).register_forward_hook(self._hook(layer, len(layers), stop, gradients, reduce)) for layer in layers
        ]

    def _hook(self, layer: str, count: int, stop: bool, gradients: bool, reduce: bool):
        def hook(_module, _inputs, output):
            maps = _check_maps(output, layer)
            if reduce:
                with torch.no_grad():  # the same values as reducing the detached maps afterwards
                    self.responses[layer] = reduce_maps(maps.detach().float())
                    if self._keep_maps:
                        self.quantised[layer] = quantise(maps.detach().float())
            if gradients:
                maps.retain_grad()
                self.maps[layer] = maps
                return maps.clone()  # later in-place ops must not touch the captured maps
            if not reduce:
                self.maps[layer] = maps.clone()
            if stop and len(self.responses if reduce else self.maps) == count:
                raise _LayerReached
            return None

        return hook

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def _run(model: nn.Module, capture: _Capture, inputs: torch.Tensor, mode: str, without_grad) -> torch.Tensor | None:
    """The forward pass both ways through the network share: the logits (None when it stopped at
    the layers); with "gradients" also the backward from the predicted class's logit. The hooks
    are removed whatever happens."""
    logits = None
    try:
        if mode not in ("to_layers", "full", "gradients"):
            raise ValueError(f"unknown forward mode {mode!r}")
        model.eval()
        if mode == "gradients":
            with torch.enable_grad():
                logits = model(inputs.requires_grad_(True))
                logits.gather(1, logits.argmax(dim=1)[:, None]).sum().backward()
        else:
            with without_grad(), contextlib.suppress(_LayerReached):
                logits = model(inputs)
    finally:
        capture.close()
        model.zero_grad(set_to_none=True)
    return logits


def forward_layers(
    model: nn.Module, layers: list[str], batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device, mode: str = "full"
) -> dict[str, BatchFeatures]:
    """One forward pass capturing every layer in `layers`.

    mode "to_layers": stop once all layers have run (no logits); "full": the whole model;
    "gradients": also α_f(x) = Σ_hw A_f(x)[h,w] · ∂logit_ĉ/∂A_f[h,w] for the predicted class ĉ
    (one backward pass serves every layer).
    """
    capture = _Capture(model, layers, stop=mode == "to_layers", gradients=mode == "gradients")
    logits = _run(model, capture, normalise(batch.to(device), preprocessing), mode, torch.no_grad)
    results = {}
    for layer in layers:
        maps = capture.maps[layer]
        contributions = (maps * maps.grad).sum(dim=(2, 3)).detach().float().cpu() if mode == "gradients" else None
        results[layer] = BatchFeatures(
            feature_maps=maps.detach().float().cpu(),
            logits=None if logits is None else logits.detach().float().cpu(),
            contributions=contributions,
        )
    return results


def forward_reduced(
    model: nn.Module,
    layers: list[str],
    batch: torch.Tensor,
    preprocessing: Preprocessing,
    device: torch.device,
    mode: str = "full",
    channels_last: bool = False,
    keep_maps: bool = False,
) -> dict[str, ReducedFeatures]:
    """`forward_layers` with every layer's maps reduced on `device` in its forward hook: the
    responses (and logits, and for "gradients" the contributions) are exactly those of reducing
    `forward_layers`' maps on the CPU, and maps are never copied or kept beyond their layer.

    `batch` is uint8 on the CPU (pinned, on CUDA, for a non-blocking copy); "to_layers" and
    "full" run in inference mode. `channels_last` runs the network on a channels-last input (the
    caller converts the model once); it changes the convolutions' float results slightly
    (`uses_channels_last`). `keep_maps` also returns the maps, quantised
    on the device to 8 bits (filterspeak.backbones.quantised_maps). On CUDA the copies back are queued, not waited for:
    the caller can queue the next batch before calling `wait()` on these results."""
    capture = _Capture(model, layers, stop=mode == "to_layers", gradients=mode == "gradients", reduce=True, keep_maps=keep_maps)
    inputs = normalise(batch.to(device, non_blocking=True), preprocessing)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    logits = _run(model, capture, inputs, mode, torch.inference_mode)
    on_cuda = device.type == "cuda"

    def to_cpu(values: torch.Tensor) -> torch.Tensor:
        return values.detach().float().to("cpu", non_blocking=on_cuda)

    results = {}
    for layer in layers:
        contributions = None
        if mode == "gradients":
            maps = capture.maps[layer]
            contributions = to_cpu((maps * maps.grad).sum(dim=(2, 3)))
        results[layer] = ReducedFeatures(
            responses={column: to_cpu(values) for column, values in capture.responses[layer].items()},
            logits=None if logits is None else to_cpu(logits),
            contributions=contributions,
            maps=capture.quantised[layer].to("cpu", non_blocking=on_cuda) if keep_maps else None,
        )
    if on_cuda:
        copied = torch.cuda.Event()
        copied.record()
        for result in results.values():
            result.copied = copied
    return results


# How extraction lays out feature maps (`--layout`): "auto" is channels-last for a convolutional network.
LAYOUTS = ("auto", "channels_last", "contiguous")


def uses_channels_last(layout: str, model: nn.Module) -> bool:
    """Whether extraction runs `model` channels-last.

    "auto": for any network with 2-D convolutions, on every device. Channels-last is the faster
    layout for convolutions on the CPU (measured with benchmarks/extraction.py on the 2-core AMD
    EPYC, bare forward to the layer: SqueezeNet 1.0 `features.12` 1.74x, ResNet-50 `layer4` 1.44x,
    the built-in SmallCNN 1.4-1.85x) and lets cuDNN use its NHWC kernels on CUDA. It sums the
    convolutions in another order (on the cub100 build every table within 1.5e-6 of its largest
    value; tests/tasks/test_extract_layouts.py requires 2e-3), so the layout extraction ran in is
    part of its cache key; "contiguous" stays a choice."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: use {', '.join(LAYOUTS)}")
    return layout == "channels_last" or (layout == "auto" and any(isinstance(module, nn.Conv2d) for module in model.modules()))


def forward_to_layer(
    model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device
) -> BatchFeatures:
    return forward_layers(model, [layer], batch, preprocessing, device, "to_layers")[layer]


def forward_with_layer(
    model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device
) -> BatchFeatures:
    return forward_layers(model, [layer], batch, preprocessing, device, "full")[layer]


def forward_with_gradients(
    model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device
) -> BatchFeatures:
    """α_f(x) = Σ_hw A_f(x)[h,w] · ∂logit_ĉ/∂A_f[h,w] for the predicted class ĉ."""
    return forward_layers(model, [layer], batch, preprocessing, device, "gradients")[layer]


def linear_gap_head(model: nn.Module, features: BatchFeatures | ReducedFeatures, tolerance: float = 1e-3) -> nn.Linear | None:
    """The nn.Linear whose output on GAP(layer) *is* the model's logits, if there is one.

    Checked numerically on a batch, so it holds for any architecture (ResNet's fc after avgpool,
    our SmallCNN's classifier) and fails, correctly, for conv heads (SqueezeNet) or MLP heads (VGG).
    """
    gap = features.gap
    logits = features.logits
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.in_features == gap.shape[1] and module.out_features == logits.shape[1]:
            with torch.no_grad():
                predicted = nn.functional.linear(gap.to(module.weight.device), module.weight, module.bias).float().cpu()
            if torch.allclose(predicted, logits, atol=tolerance * max(1.0, logits.abs().max().item()), rtol=0):
                return module
    return None


def forward_with_filters_zeroed(
    model: nn.Module, layer: str, batch: torch.Tensor, keep: torch.Tensor, preprocessing: Preprocessing, device: torch.device
) -> torch.Tensor:
    """Logits (B, C) with the feature maps of `layer` multiplied by `keep` (B, F) of 0/1: the
    deletion test's intervention (a zeroed filter contributes nothing downstream)."""
    keep = keep.to(device=device, dtype=torch.float32)[:, :, None, None]
    handle = layer_module(model, layer).register_forward_hook(lambda _m, _i, output: _check_maps(output, layer) * keep)
    try:
        model.eval()
        with torch.no_grad():
            return model(normalise(batch.to(device), preprocessing)).float().cpu()
    finally:
        handle.remove()
