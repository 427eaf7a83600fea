"""Stage `backbone`: the network to explain.

The built-in backbone is trained here on the dataset's train split (weights + sha256 + test
accuracy), with a checkpoint after every epoch in the stage's work area: a killed run resumes
from the last finished epoch. Where FilterSpeak ships its weights for this network on this
dataset (`filterspeak.backbones.pretrained`), they are loaded instead, unless `--train` is given:
the same network on every machine. A pretrained or user backbone is verified (weights file exists,
fits the architecture, matches an expected sha256) and registered; its weights stay where they
are and are keyed by their sha256.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from filterspeak.backbones import concepts, pretrained, registry, training
from filterspeak.backbones import images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.files import sha256_file
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.schemas import BACKBONE, F64, I64, STR, table
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {
    "backbones": table(
        ("architecture", STR),
        ("weights_path", STR),
        ("weights_sha256", STR),
        ("num_classes", I64),
        ("test_accuracy", F64),
        ("parameters", STR),
        partition=BACKBONE,
        location={"weights_path": "weights_sha256"},
    )
}


@dataclass(frozen=True)
class BackboneParams:
    spec: BackboneSpec
    preprocessing: Preprocessing

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "preprocessing": self.preprocessing.to_dict()}


def params_from(options, inputs: Inputs | None = None) -> BackboneParams:
    return BackboneParams(options.backbone_spec, options.preprocessing)


def split_tensors(inputs: Inputs, split: str, preprocessing: Preprocessing) -> tuple[torch.Tensor, torch.Tensor]:
    images = inputs.read("images", ["image_id", "split", "class_id", "path"])
    chosen = images[images["split"] == split].sort_values("image_id")
    return (
        image_loading.load_images(inputs.located("images", chosen["path"]), *preprocessing.loading),
        torch.tensor(chosen["class_id"].to_numpy(), dtype=torch.long),
    )


def planted_concepts(inputs: Inputs, count: int) -> concepts.ConceptTargets:
    """The attributes the first `count` filters are trained to detect, with train-split labels."""
    images = inputs.read("images", ["image_id", "split"])
    train_ids = np.sort(images.loc[images["split"] == "train", "image_id"].to_numpy())  # split_tensors' order
    truth = inputs.read("image_truth")
    phrases = concepts.choose_concepts(truth, train_ids, inputs.read("class_definitions"), count)
    return concepts.ConceptTargets(phrases, concepts.concept_labels(train_ids, truth, phrases))


def _output_size(model: torch.nn.Module, preprocessing: Preprocessing) -> int:
    device = next(model.parameters()).device
    with torch.no_grad():
        probe = torch.zeros(1, 3, preprocessing.image_size, preprocessing.image_size, device=device)
        return int(model.eval()(probe).shape[1])


def _check(spec: BackboneSpec, inputs: Inputs) -> None:
    if not spec.trainable:
        registry.build_backbone(spec)  # fail fast: unknown name, missing or mismatched weights
    if spec.concept_filters:
        if not spec.trainable:
            raise registry.BackboneError("concept_filters applies to the built-in backbone only")
        if not inputs.read("image_truth", ["image_id"]).shape[0]:
            raise registry.BackboneError("concept_filters needs per-image ground truth (the synthetic dataset has it)")


def _load_shipped(
    model: torch.nn.Module, spec: BackboneSpec, inputs: Inputs, planted: concepts.ConceptTargets | None, weights: Path, output: StageOutput
) -> None:
    """The shipped weights into `model` and a copy of their file at `weights`; the metrics say
    whether this dataset is the one they were trained on (the same pixels and planted concepts)."""
    entry = pretrained.SHIPPED[spec.shipped]
    state = entry.state_dict()  # sha256 checked
    try:
        model.load_state_dict(state)
    except RuntimeError:
        classes = int(state["classifier.weight"].shape[0]) if "classifier.weight" in state else "?"
        raise pretrained.ShippedWeightsError(
            f"the shipped weights {entry.key} are for {classes} classes; this dataset has {model.classifier.out_features}: "
            "build with --train"
        ) from None
    shutil.copyfile(entry.path, weights)
    record = entry.record
    same_pixels = inputs.metrics("images").get("pixels_hash") == record.get("pixels_hash")
    same_concepts = planted is None or list(planted.phrases) == record.get("concept_filters")
    output.metrics.update(
        shipped=entry.key,
        shipped_dataset_matches=bool(same_pixels and same_concepts),
        trained_with=record.get("trained_with"),
        final_loss=record.get("final_loss"),
    )
    if planted is not None:
        output.metrics.update(concept_accuracy=record.get("concept_accuracy"))


def compute(inputs: Inputs, params: BackboneParams, context: Context, output: StageOutput) -> None:
    spec, preprocessing = params.spec, params.preprocessing
    _check(spec, inputs)
    test_accuracy = None
    if spec.trainable:
        torch.manual_seed(spec.train_seed)
        model = registry.build_backbone(spec, len(inputs.read("classes", ["class_id"])))
        planted = planted_concepts(inputs, spec.concept_filters) if spec.concept_filters else None
        weights = output.file("weights", "model.pt")
        train, test = split_tensors(inputs, "train", preprocessing), split_tensors(inputs, "test", preprocessing)
        device = resolve_device(context.device)
        if spec.loads_shipped:
            _load_shipped(model, spec, inputs, planted, weights, output)
            test_accuracy = training.accuracy(model.to(device), *test, preprocessing, device)
            output.metrics.update(train_accuracy=training.accuracy(model, *train, preprocessing, device))
        else:
            result = training.train_classifier(
                model,
                spec,
                preprocessing,
                train,
                test,
                device,
                progress=context.progress,
                concepts=planted,
                checkpoint=output.work / "training.pt",
            )
            if planted is not None:  # filter k detects planted.phrases[k]
                output.metrics.update(concept_accuracy=result.concept_accuracy)
            torch.save({name: tensor.cpu() for name, tensor in model.state_dict().items()}, weights)
            test_accuracy = result.test_accuracy
            output.metrics.update(train_accuracy=result.train_accuracy, final_loss=result.final_loss)
        if planted is not None:
            output.metrics.update(concept_filters=list(planted.phrases))
        weights_path, weights_sha256 = "model.pt", sha256_file(weights)  # inside this output (StageResult.located)
    else:
        model = registry.build_backbone(spec)
        weights_path, weights_sha256 = (str(spec.weights_file()), spec.sha256()) if spec.weights else (None, None)
    num_outputs = _output_size(model, preprocessing)
    output.metrics.update(
        backbone=spec.name,
        weights_source=spec.weights_source,
        weights_sha256=weights_sha256,
        num_outputs=num_outputs,
        test_accuracy=test_accuracy,
    )
    row = {
        "architecture": spec.architecture,
        "weights_path": weights_path,
        "weights_sha256": weights_sha256,
        "num_classes": num_outputs,
        "test_accuracy": test_accuracy,
        "parameters": json.dumps({"spec": spec.to_dict(), "preprocessing": preprocessing.to_dict()}),
    }
    output.write("backbones", pd.DataFrame([row]))


STAGE = StageSpec(
    name="backbone",
    module=__name__,
    scope="backbone",
    writes=TABLES,
    params=params_from,
    compute=compute,
    reads={
        "images": ("image_id", "split", "class_id", "path"),
        "classes": ("class_id",),
        "image_truth": ALL_COLUMNS,
        "class_definitions": ALL_COLUMNS,
    },
)
