"""Stage `extract`: one streaming pass over every image → activations (and the model's own decisions),
for one or several layers at once (one stage output per layer).

Activations are reduced per filter to the spatial max and mean (the mean is GAP). With
`head="model"` the network's own classifier decides, and its decisions are decomposed per
filter: exactly (α_f = w_ĉf · GAP(A_f)) when the layer feeds a GAP + linear head, by gradient ×
activation otherwise. With `head="none"` the forward stops at the layer; a trained head (stage
`head`) decides later. The device is not part of the fingerprint: CPU and CUDA agree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from filterspeak.backbones import features, images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.interpret.decomposition import GRADIENT_X_ACTIVATION, LINEAR_GAP
from filterspeak.storage.cache import StageOutput, StageResult, lookup, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.decisions import write_decisions
from filterspeak.tasks.prepare_backbone import load_backbone_model
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS

STAGE = "extract"
HeadMode = Literal["model", "none"]


def long_activations(image_ids: np.ndarray, max_response: np.ndarray, mean_response: np.ndarray) -> pd.DataFrame:
    """(N, F) matrices → one row per (image, filter)."""
    count, filters = max_response.shape
    return pd.DataFrame(
        {
            "image_id": np.repeat(image_ids, filters),
            "filter": np.tile(np.arange(filters, dtype=np.int32), count),
            "max_response": max_response.reshape(-1).astype(np.float32),
            "mean_response": mean_response.reshape(-1).astype(np.float32),
        }
    )


@dataclass
class _LayerArrays:
    max_response: list[np.ndarray] = field(default_factory=list)
    mean_response: list[np.ndarray] = field(default_factory=list)
    contributions: list[np.ndarray] = field(default_factory=list)
    method: str | None = None
    linear: torch.nn.Linear | None = None


def _one_pass(model, layers, paths_list, preprocessing, head, device, batch_size, progress, label):
    """Every layer in `layers` from one streaming pass over the images."""
    arrays = {layer: _LayerArrays() for layer in layers}
    logits_parts: list[np.ndarray] = []
    mode = "to_layers" if head == "none" else "full"
    batches = image_loading.iterate_batches(paths_list, preprocessing, batch_size)
    total = -(-len(paths_list) // batch_size)
    for _, batch in tqdm(batches, total=total, desc=f"extract {label}", disable=not progress, leave=False):
        results = features.forward_layers(model, layers, batch, preprocessing, device, mode)
        if head == "model" and mode == "full" and not logits_parts:  # decide once, on the first batch
            for layer in layers:
                arrays[layer].linear = features.linear_gap_head(model, results[layer])
                arrays[layer].method = LINEAR_GAP if arrays[layer].linear is not None else GRADIENT_X_ACTIVATION
            if any(a.method == GRADIENT_X_ACTIVATION for a in arrays.values()):
                mode = "gradients"
                results = features.forward_layers(model, layers, batch, preprocessing, device, mode)
        for layer, result in results.items():
            arrays[layer].max_response.append(result.max_response.numpy())
            arrays[layer].mean_response.append(result.mean_response.numpy())
            if result.contributions is not None:
                arrays[layer].contributions.append(result.contributions.double().numpy())
        if head == "model":
            logits_parts.append(next(iter(results.values())).logits.double().numpy())
    logits = np.concatenate(logits_parts) if logits_parts else None
    return arrays, logits


def extract_layers(
    paths: StorePaths,
    dataset: StageResult,
    backbone: StageResult,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    layers: list[str],
    head: HeadMode = "model",
    device: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
) -> list[StageResult]:
    """One stage output per layer (each cached on its own), computed in a single pass for all
    layers that are not cached yet."""

    def inputs(layer: str) -> dict:
        return {
            "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
            "pixels": dataset.metrics["pixels_hash"],
            "weights_sha256": backbone.metrics["weights_sha256"],
            "architecture": spec.to_dict(),
            "layer": layer,
            "head": head,
            "preprocessing": preprocessing.to_dict(),
            "code": code_version(sys.modules[__name__], features, image_loading),
        }

    model = load_backbone_model(backbone, spec)
    for layer in layers:
        features.layer_module(model, layer)  # fail fast, with the valid names, before any work
    cached = {layer: lookup(paths, STAGE, inputs(layer)) for layer in layers}
    missing = [layer for layer in layers if cached[layer] is None]
    images = dataset.read("images").sort_values("image_id").reset_index(drop=True)
    arrays, logits = {}, None
    if missing:
        torch_device = resolve_device(device)
        model.to(torch_device)
        arrays, logits = _one_pass(
            model, missing, images["path"].tolist(), preprocessing, head, torch_device, batch_size, progress,
            f"{spec.name}:{','.join(missing)}",
        )

    def writer(layer: str):
        def compute(output: StageOutput) -> None:
            layer_arrays = arrays[layer]
            max_response, mean_response = np.concatenate(layer_arrays.max_response), np.concatenate(layer_arrays.mean_response)
            partition = {"backbone": spec.name, "layer": layer}
            output.write("activations", long_activations(images["image_id"].to_numpy(), max_response, mean_response), partition)
            if head == "model":
                linear = layer_arrays.linear
                head_weights = None
                if linear is not None:
                    head_weights = (linear.weight.detach().cpu().double().numpy(), linear.bias.detach().cpu().double().numpy())
                contributions = np.concatenate(layer_arrays.contributions) if layer_arrays.method == GRADIENT_X_ACTIVATION else None
                write_decisions(
                    output, partition, images, logits, mean_response.astype(np.float64), layer_arrays.method,
                    head_weights=head_weights, contributions=contributions,
                )
            output.metrics.update(backbone=spec.name, layer=layer, images=len(images), filters=int(max_response.shape[1]))

        return compute

    return [cached[layer] or run_stage(paths, STAGE, inputs(layer), writer(layer)) for layer in layers]


def extract_features(
    paths: StorePaths,
    dataset: StageResult,
    backbone: StageResult,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    layer: str,
    head: HeadMode = "model",
    device: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
) -> StageResult:
    """`extract_layers` for one layer."""
    return extract_layers(paths, dataset, backbone, spec, preprocessing, [layer], head, device, batch_size, progress)[0]
