"""Explain new image files with a built store's model, decision head and filter–attribute distributions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from PIL import UnidentifiedImageError

from filterspeak.backbones import features, images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.flows.config import BuildOptions
from filterspeak.interpret.decisions import explain_decisions
from filterspeak.interpret.decomposition import LINEAR_GAP, linear_gap_contributions
from filterspeak.interpret.sentences import CitedAttribute
from filterspeak.storage.builds import load_build_record
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.estimate_pdfs import load_head
from filterspeak.tasks.generate_explanations import load_pdf, vocabulary_of
from filterspeak.tasks.prepare_backbone import load_backbone_model


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


def _load(path: Path, size: int, resize: int | None) -> torch.Tensor:
    if not path.is_file():
        raise ImageUnreadable(f"image not found: {path}")
    try:
        return image_loading.load_images([path], size, resize)
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
    options = BuildOptions(**record.options)
    spec, preprocessing = options.backbone_spec, options.preprocessing
    model = load_backbone_model(record.result(paths, "backbone"), spec)
    captions = record.result(paths, "captions")
    vocabulary = vocabulary_of(captions)
    extraction = record.result(paths, "extract")
    decision = record.result(paths, record.decision)
    pdf = load_pdf(record.result(paths, "pdfs"), int(extraction.metrics["filters"]), len(vocabulary.phrases))
    classes = record.result(paths, "dataset").read("classes")
    names = dict(zip(classes["class_id"], classes["name"]))
    torch_device = resolve_device(device)
    model.to(torch_device)

    batch = torch.cat([_load(Path(file), preprocessing.image_size, preprocessing.resize) for file in image_files])
    head = load_head(decision)
    if record.decision == "head":  # a trained linear head on GAP features
        result = features.forward_to_layer(model, record.layer, batch, preprocessing, torch_device)
        gap = result.mean_response.double().numpy()
        logits = gap @ head[0].T + head[1]
        contributions = linear_gap_contributions(gap, head[0], logits.argmax(axis=1))
    elif decision.metrics["decomposition"] == LINEAR_GAP:
        result = features.forward_with_layer(model, record.layer, batch, preprocessing, torch_device)
        logits = result.logits.double().numpy()
        contributions = linear_gap_contributions(result.mean_response.double().numpy(), head[0], logits.argmax(axis=1))
    else:
        result = features.forward_with_gradients(model, record.layer, batch, preprocessing, torch_device)
        logits, contributions = result.logits.double().numpy(), result.contributions.double().numpy()
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    predicted = probabilities.argmax(axis=1)
    explained = explain_decisions(
        contributions, predicted, pdf, vocabulary, names, top_k or options.sentence_attributes,
        options.min_relative_score, decision.metrics["decomposition"],
    )
    return [
        ImageExplanation(str(file), int(c), names.get(int(c), str(c)), float(probabilities[i, c]), e.sentence, e.cited)
        for i, (file, c, e) in enumerate(zip(image_files, predicted, explained))
    ]
