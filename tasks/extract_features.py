"""Stage `extract`: one streaming pass over every image → activations (and the model's own decisions).

Activations are reduced per filter to the spatial max and mean (the mean is GAP). With
`head="model"` the network's own classifier decides, and its decisions are decomposed per
filter: exactly (α_f = w_ĉf · GAP(A_f)) when the layer feeds a GAP + linear head, by gradient ×
activation otherwise. With `head="none"` the forward stops at the layer; a trained head (stage
`head`) decides later. The device is not part of the fingerprint: CPU and CUDA agree.
"""

from __future__ import annotations

import sys
from typing import Literal

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from filterspeak.backbones import features, images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.interpret.decomposition import GRADIENT_X_ACTIVATION, LINEAR_GAP
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
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
    inputs = {
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
    features.layer_module(model, layer)  # fail fast, with the valid names, before any work

    def compute(output: StageOutput) -> None:
        torch_device = resolve_device(device)
        model.to(torch_device)
        images = dataset.read("images").sort_values("image_id").reset_index(drop=True)
        paths_list = images["path"].tolist()
        max_parts, mean_parts, logit_parts, contribution_parts = [], [], [], []
        method, linear = None, None
        batches = image_loading.iterate_batches(paths_list, preprocessing, batch_size)
        total = -(-len(paths_list) // batch_size)
        for _, batch in tqdm(batches, total=total, desc=f"extract {spec.name}:{layer}", disable=not progress, leave=False):
            if head == "none":
                result = features.forward_to_layer(model, layer, batch, preprocessing, torch_device)
            elif method == GRADIENT_X_ACTIVATION:
                result = features.forward_with_gradients(model, layer, batch, preprocessing, torch_device)
            else:
                result = features.forward_with_layer(model, layer, batch, preprocessing, torch_device)
                if method is None:  # decide once, on the first batch
                    linear = features.linear_gap_head(model, result)
                    method = LINEAR_GAP if linear is not None else GRADIENT_X_ACTIVATION
                    if method == GRADIENT_X_ACTIVATION:
                        result = features.forward_with_gradients(model, layer, batch, preprocessing, torch_device)
            max_parts.append(result.max_response.numpy())
            mean_parts.append(result.mean_response.numpy())
            if head == "model":
                logit_parts.append(result.logits.double().numpy())
                if result.contributions is not None:
                    contribution_parts.append(result.contributions.double().numpy())
        max_response, mean_response = np.concatenate(max_parts), np.concatenate(mean_parts)
        image_ids = images["image_id"].to_numpy()
        partition = {"backbone": spec.name, "layer": layer}
        output.write("activations", long_activations(image_ids, max_response, mean_response), partition)
        if head == "model":
            head_weights = None
            if linear is not None:
                head_weights = (linear.weight.detach().cpu().double().numpy(), linear.bias.detach().cpu().double().numpy())
            write_decisions(
                output, partition, images, np.concatenate(logit_parts), mean_response.astype(np.float64), method,
                head_weights=head_weights,
                contributions=np.concatenate(contribution_parts) if contribution_parts else None,
            )
        output.metrics.update(
            backbone=spec.name, layer=layer, images=len(images), filters=int(max_response.shape[1]),
            feature_map=list(result.feature_maps.shape[2:]),
        )

    return run_stage(paths, STAGE, inputs, compute)
