"""Stage `extract`: one streaming pass over every image → activations, predictions, head weights.

Activations are reduced per filter to the spatial max and mean (the mean is GAP, so the
logit decomposes exactly for a GAP+linear head). The device is not part of the fingerprint:
CPU and CUDA give the same tables within float tolerance.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from filterspeak.backbones import features, images as image_loading, registry
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS
from filterspeak.tasks.train_backbone import load_trained_model

STAGE = "extract"


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
    device: str = "auto",
    batch_size: int = 128,
    progress: bool = True,
) -> StageResult:
    inputs = {
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "pixels": dataset.file_hash("images"),
        "weights_sha256": backbone.metrics["weights_sha256"],
        "architecture": spec.to_dict(),
        "layer": layer,
        "preprocessing": preprocessing.to_dict(),
        "code": code_version(sys.modules[__name__], features, image_loading),
    }
    model = load_trained_model(backbone, spec)
    features.layer_module(model, layer)  # fail fast, with the valid names, before any work

    def compute(output: StageOutput) -> None:
        torch_device = resolve_device(device)
        model.to(torch_device)
        images = dataset.read("images").sort_values("image_id").reset_index(drop=True)
        paths_list = images["path"].tolist()
        max_parts, mean_parts, logit_parts = [], [], []
        batches = image_loading.iterate_batches(paths_list, preprocessing, batch_size)
        total = -(-len(paths_list) // batch_size)
        for _, batch in tqdm(batches, total=total, desc=f"extract {spec.name}:{layer}", disable=not progress, leave=False):
            result = features.forward_with_layer(model, layer, batch, preprocessing, torch_device)
            max_parts.append(result.max_response.numpy())
            mean_parts.append(result.mean_response.numpy())
            logit_parts.append(result.logits.double().numpy())
        max_response, mean_response = np.concatenate(max_parts), np.concatenate(mean_parts)
        logits = np.concatenate(logit_parts)
        probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
        predicted = logits.argmax(axis=1)
        image_ids = images["image_id"].to_numpy()
        partition = {"backbone": spec.name, "layer": layer}
        output.write("activations", long_activations(image_ids, max_response, mean_response), partition)
        output.write(
            "predictions",
            pd.DataFrame(
                {
                    "image_id": image_ids,
                    "predicted_class_id": predicted,
                    "true_class_id": images["class_id"].to_numpy(),
                    "probability": probabilities[np.arange(len(predicted)), predicted],
                    "logit": logits[np.arange(len(predicted)), predicted],
                    "correct": predicted == images["class_id"].to_numpy(),
                }
            ),
            {"backbone": spec.name},
        )
        weights, bias = registry.linear_head(model, spec)
        classes, filters = weights.shape
        output.write(
            "head_weights",
            pd.DataFrame(
                {
                    "class_id": np.repeat(np.arange(classes), filters),
                    "filter": np.tile(np.arange(filters, dtype=np.int32), classes),
                    "weight": weights.reshape(-1),
                }
            ),
            partition,
        )
        output.write("head_bias", pd.DataFrame({"class_id": np.arange(classes), "bias": bias}), partition)
        test = (images["split"] == "test").to_numpy()
        output.metrics.update(
            backbone=spec.name,
            layer=layer,
            images=len(images),
            filters=int(max_response.shape[1]),
            test_accuracy=float((predicted[test] == images["class_id"].to_numpy()[test]).mean()) if test.any() else None,
        )

    return run_stage(paths, STAGE, inputs, compute)
