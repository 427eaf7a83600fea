"""Stage `backbone`: the network to explain.

The built-in backbone is trained here on the dataset's train split (weights + sha256 + test
accuracy), with a checkpoint after every epoch in the stage's work area: a killed run resumes
from the last finished epoch. A pretrained or user backbone is verified (weights file exists,
fits the architecture, matches an expected sha256) and registered; its weights stay where they
are and are keyed by their sha256.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pandas as pd
import torch

from filterspeak.backbones import images as image_loading
from filterspeak.backbones import concepts, registry, small_cnn, training
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.storage.cache import StageOutput, StageResult, run_stage, stage_key
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


def planted_concepts(dataset: StageResult, count: int) -> concepts.ConceptTargets:
    """The attributes the first `count` filters are trained to detect, with train-split labels."""
    images = dataset.read("images")
    train_ids = np.sort(images.loc[images["split"] == "train", "image_id"].to_numpy())  # split_tensors' order
    truth = dataset.read("image_truth")
    phrases = concepts.choose_concepts(truth, train_ids, dataset.read("class_definitions"), count)
    return concepts.ConceptTargets(phrases, concepts.concept_labels(train_ids, truth, phrases))


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
        "code": code_version(sys.modules[__name__], registry, small_cnn, training, image_loading, concepts),
    }
    if spec.trainable:  # trained on the data: depends on it
        inputs.update(images=dataset.table_hash("images", IMAGE_KEY_COLUMNS), pixels=dataset.metrics["pixels_hash"])
    else:
        registry.build_backbone(spec)  # fail fast: unknown name, missing or mismatched weights
    if spec.concept_filters:
        if not spec.trainable:
            raise registry.BackboneError("concept_filters applies to the built-in backbone only")
        if not dataset.read("image_truth", ["image_id"]).shape[0]:
            raise registry.BackboneError("concept_filters needs per-image ground truth (the synthetic dataset has it)")
        inputs.update(truth=dataset.table_hash("image_truth"), definitions=dataset.table_hash("class_definitions"))

    work = paths.work_dir(STAGE, stage_key(STAGE, inputs))  # training checkpoints of a run not finished yet

    def compute(output: StageOutput) -> None:
        num_classes = int(dataset.metrics["classes"])
        test_accuracy = None
        if spec.trainable:
            torch.manual_seed(spec.train_seed)
            model = registry.build_backbone(spec, num_classes)
            planted = planted_concepts(dataset, spec.concept_filters) if spec.concept_filters else None
            result = training.train_classifier(
                model, spec, preprocessing, split_tensors(dataset, "train", preprocessing),
                split_tensors(dataset, "test", preprocessing), resolve_device(device), progress=progress, concepts=planted,
                checkpoint=work / "training.pt",
            )
            if planted is not None:  # filter k detects planted.phrases[k]
                output.metrics.update(concept_filters=list(planted.phrases), concept_accuracy=result.concept_accuracy)
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

    result = run_stage(paths, STAGE, inputs, compute)
    shutil.rmtree(work, ignore_errors=True)  # stored: the checkpoints are no longer needed
    return result


def load_backbone_model(backbone: StageResult, spec: BackboneSpec) -> torch.nn.Module:
    """The stage's network: built-in weights from the store, others from their (verified) file."""
    if not spec.trainable:
        return registry.build_backbone(spec)
    model = registry.build_backbone(spec, backbone.metrics["num_outputs"])
    model.load_state_dict(torch.load(backbone.file_path("weights"), map_location="cpu", weights_only=True))
    return model.eval()
