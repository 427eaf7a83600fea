"""Stage `backbone`: the network to explain.

The built-in backbone is trained here on the dataset's train split (weights + sha256 + test
accuracy). A pretrained or user backbone is verified (weights file exists, fits the
architecture, matches an expected sha256) and registered; its weights stay where they are and
are keyed by their sha256.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
import torch

from filterspeak.backbones import images as image_loading
from filterspeak.backbones import registry, small_cnn, training
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.fingerprint import code_version, sha256_file
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS

STAGE = "backbone"


def split_tensors(dataset: StageResult, split: str, preprocessing: Preprocessing) -> tuple[torch.Tensor, torch.Tensor]:
    images = dataset.read("images")
    chosen = images[images["split"] == split].sort_values("image_id")
    return (
        image_loading.load_images(chosen["path"].tolist(), preprocessing.image_size, preprocessing.resize),
        torch.tensor(chosen["class_id"].to_numpy(), dtype=torch.long),
    )


def _output_size(model: torch.nn.Module, preprocessing: Preprocessing) -> int:
    device = next(model.parameters()).device
    with torch.no_grad():
        probe = torch.zeros(1, 3, preprocessing.image_size, preprocessing.image_size, device=device)
        return int(model.eval()(probe).shape[1])


def prepare_backbone(
    paths: StorePaths,
    dataset: StageResult,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    device: str = "auto",
    progress: bool = True,
) -> StageResult:
    inputs = {
        "spec": spec.to_dict(),
        "preprocessing": preprocessing.to_dict(),
        "code": code_version(sys.modules[__name__], registry, small_cnn, training, image_loading),
    }
    if spec.trainable:  # trained on the data: depends on it
        inputs.update(images=dataset.table_hash("images", IMAGE_KEY_COLUMNS), pixels=dataset.metrics["pixels_hash"])
    else:
        registry.build_backbone(spec)  # fail fast: unknown name, missing or mismatched weights

    def compute(output: StageOutput) -> None:
        num_classes = int(dataset.metrics["classes"])
        test_accuracy = None
        if spec.trainable:
            torch.manual_seed(spec.train_seed)
            model = registry.build_backbone(spec, num_classes)
            result = training.train_classifier(
                model, spec, preprocessing, split_tensors(dataset, "train", preprocessing),
                split_tensors(dataset, "test", preprocessing), resolve_device(device), progress=progress,
            )
            weights = output.file("weights", "model.pt")
            torch.save({name: tensor.cpu() for name, tensor in model.state_dict().items()}, weights)
            weights_path, weights_sha256 = str(output.final_directory / "model.pt"), sha256_file(weights)
            test_accuracy = result.test_accuracy
            output.metrics.update(train_accuracy=result.train_accuracy, final_loss=result.final_loss)
        else:
            model = registry.build_backbone(spec)
            weights_path, weights_sha256 = spec.weights, spec.sha256() if spec.weights else None
        num_outputs = _output_size(model, preprocessing)
        row = {
            "architecture": spec.architecture,
            "weights_path": weights_path,
            "weights_sha256": weights_sha256,
            "num_classes": num_outputs,
            "test_accuracy": test_accuracy,
            "parameters": json.dumps({"spec": spec.to_dict(), "preprocessing": preprocessing.to_dict()}),
        }
        output.write("backbones", pd.DataFrame([row]), partition={"backbone": spec.name})
        output.metrics.update(
            backbone=spec.name, weights_sha256=weights_sha256, num_outputs=num_outputs, test_accuracy=test_accuracy
        )

    return run_stage(paths, STAGE, inputs, compute)


def load_backbone_model(backbone: StageResult, spec: BackboneSpec) -> torch.nn.Module:
    """The stage's network: built-in weights from the store, others from their (verified) file."""
    if not spec.trainable:
        return registry.build_backbone(spec)
    model = registry.build_backbone(spec, backbone.metrics["num_outputs"])
    model.load_state_dict(torch.load(backbone.file_path("weights"), map_location="cpu", weights_only=True))
    return model.eval()
