"""Explain new image files with a built store's model and filter–attribute distributions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from PIL import UnidentifiedImageError

from filterspeak.backbones import features, images as image_loading, registry
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.interpret.decisions import explain_decisions
from filterspeak.interpret.sentences import CitedAttribute
from filterspeak.storage.builds import load_build_record
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.generate_explanations import load_pdf, vocabulary_of
from filterspeak.tasks.train_backbone import load_trained_model


@dataclass(frozen=True)
class ImageExplanation:
    path: str
    predicted_class_id: int
    class_name: str
    probability: float
    sentence: str
    cited: list[CitedAttribute]


class ImageUnreadable(ValueError):
    pass


def _load(path: Path, size: int) -> torch.Tensor:
    if not path.is_file():
        raise ImageUnreadable(f"image not found: {path}")
    try:
        return image_loading.load_images([path], size)
    except (UnidentifiedImageError, OSError) as error:
        raise ImageUnreadable(f"cannot read image {path}: {error}") from None


def explain_image_files(
    paths: StorePaths,
    image_files: Sequence[str | Path],
    backbone: str | None = None,
    layer: str | None = None,
    device: str = "auto",
    top_k: int | None = None,
) -> list[ImageExplanation]:
    record = load_build_record(paths, backbone, layer)
    options = record.options
    spec = BackboneSpec(
        architecture=options["backbone"], width=options["width"], train_seed=options["train_seed"], epochs=options["epochs"]
    )
    preprocessing = Preprocessing(image_size=options["image_size"])
    model = load_trained_model(record.result(paths, "train"), spec)
    captions = record.result(paths, "captions")
    vocabulary = vocabulary_of(captions)
    extraction = record.result(paths, "extract")
    pdf = load_pdf(record.result(paths, "pdfs"), int(extraction.metrics["filters"]), len(vocabulary.phrases))
    classes = record.result(paths, "dataset").read("classes")
    names = dict(zip(classes["class_id"], classes["name"]))
    head_weights, _ = registry.linear_head(model, spec)
    torch_device = resolve_device(device)
    model.to(torch_device)

    batch = torch.cat([_load(Path(file), preprocessing.image_size) for file in image_files])
    result = features.forward_with_layer(model, record.layer, batch, preprocessing, torch_device)
    probabilities = torch.softmax(result.logits.double(), dim=1).numpy()
    predicted = probabilities.argmax(axis=1)
    explained = explain_decisions(
        result.mean_response.double().numpy(), predicted, head_weights, pdf, vocabulary, names,
        top_k or options["sentence_attributes"], options["min_relative_score"],
    )
    return [
        ImageExplanation(str(file), int(cls), names.get(int(cls), str(cls)), float(probabilities[i, cls]), e.sentence, e.cited)
        for i, (file, cls, e) in enumerate(zip(image_files, predicted, explained))
    ]
