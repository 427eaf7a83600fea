"""Explain new image files with a built store's model, decision head and filter–attribute distributions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import UnidentifiedImageError

from filterspeak.backbones import images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.errors import FilterSpeakError
from filterspeak.interpret.decisions import explain_decisions
from filterspeak.interpret.sentences import CitedAttribute
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.decisions import head_of
from filterspeak.tasks.graph import open_build
from filterspeak.tasks.readers import vocabulary_of


@dataclass(frozen=True)
class ImageExplanation:
    path: str
    predicted_class_id: int
    class_name: str
    probability: float
    sentence: str
    cited: list[CitedAttribute]


class ImageUnreadable(FilterSpeakError, ValueError):
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
    build = open_build(paths, backbone, layer)
    options = build.options
    preprocessing = options.preprocessing
    torch_device = resolve_device(device)
    model = build.model().to(torch_device)
    classes = build.read("classes")
    names = dict(zip(classes["class_id"], classes["name"]))
    head = head_of(build.table_result("predictions"))

    batch = torch.cat([_load(Path(file), preprocessing.image_size, preprocessing.resize) for file in image_files])
    decided = head.decide(model, build.layer, batch, preprocessing, torch_device)
    probabilities, predicted = decided.probabilities, decided.predicted
    explained = explain_decisions(
        decided.contributions,
        predicted,
        build.pdf,
        vocabulary_of(build),
        names,
        top_k or options.sentence_attributes,
        options.min_relative_score,
        head.method,
    )
    return [
        ImageExplanation(str(file), int(c), names.get(int(c), str(c)), float(probabilities[i, c]), e.sentence, e.cited)
        for i, (file, c, e) in enumerate(zip(image_files, predicted, explained))
    ]
