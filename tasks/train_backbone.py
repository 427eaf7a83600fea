"""Stage `train`: fit a built-in backbone on the dataset's train split; weights + sha256 + accuracy."""

from __future__ import annotations

import sys

import json

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

STAGE = "train"


def split_tensors(dataset: StageResult, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    images = dataset.read("images")
    chosen = images[images["split"] == split].sort_values("image_id")
    return (
        image_loading.load_images(chosen["path"].tolist(), size),
        torch.tensor(chosen["class_id"].to_numpy(), dtype=torch.long),
    )


def train_backbone(
    paths: StorePaths,
    dataset: StageResult,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    device: str = "auto",
    progress: bool = True,
) -> StageResult:
    inputs = {
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "pixels": dataset.file_hash("images"),
        "spec": spec.to_dict(),
        "preprocessing": preprocessing.to_dict(),
        "code": code_version(sys.modules[__name__], registry, small_cnn, training, image_loading),
    }

    def compute(output: StageOutput) -> None:
        torch_device = resolve_device(device)
        num_classes = len(dataset.read("classes"))
        torch.manual_seed(spec.train_seed)
        model = registry.build_backbone(spec, num_classes)
        result = training.train_classifier(
            model,
            spec,
            preprocessing,
            split_tensors(dataset, "train", preprocessing.image_size),
            split_tensors(dataset, "test", preprocessing.image_size),
            torch_device,
            progress=progress,
        )
        weights = output.file("weights", "model.pt")
        torch.save({name: tensor.cpu() for name, tensor in model.state_dict().items()}, weights)
        weights_sha256 = sha256_file(weights)
        row = {
            "architecture": spec.architecture,
            "weights_path": str(output.final_directory / "model.pt"),
            "weights_sha256": weights_sha256,
            "num_classes": num_classes,
            "test_accuracy": result.test_accuracy,
            "parameters": json.dumps({"spec": spec.to_dict(), "preprocessing": preprocessing.to_dict()}),
        }
        output.write("backbones", pd.DataFrame([row]), partition={"backbone": spec.name})
        output.metrics.update(
            backbone=spec.name,
            weights_sha256=weights_sha256,
            num_classes=num_classes,
            train_accuracy=result.train_accuracy,
            test_accuracy=result.test_accuracy,
            final_loss=result.final_loss,
        )

    return run_stage(paths, STAGE, inputs, compute)


def load_trained_model(backbone: StageResult, spec: BackboneSpec) -> torch.nn.Module:
    """Rebuild the architecture and load the stored weights (tensors only, never pickled code)."""
    model = registry.build_backbone(spec, backbone.metrics["num_classes"])
    state = torch.load(backbone.file_path("weights"), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
