"""Explain new image files with a built store's model, decision head and filter–attribute distributions.

With a heat-map folder, each cited attribute also gets a PNG: the image as the network saw it with
the attribute's map M_a overlaid (`filterspeak.interpret.heatmaps`, the maps the grounding metric
scores), titled with the phrase.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import UnidentifiedImageError

from filterspeak.backbones import images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.errors import FilterSpeakError
from filterspeak.interpret.decisions import explain_decisions
from filterspeak.interpret.heatmap_images import heat_map_image
from filterspeak.interpret.heatmaps import heat_maps
from filterspeak.interpret.sentences import CitedAttribute
from filterspeak.storage.atomic import atomic_write
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.decisions import head_of
from filterspeak.tasks.graph import BuildView, open_build
from filterspeak.tasks.readers import vocabulary_of


@dataclass(frozen=True)
class ImageExplanation:
    path: str
    predicted_class_id: int
    class_name: str
    probability: float
    sentence: str
    cited: list[CitedAttribute]
    heatmaps: list[tuple[str, str]] = field(default_factory=list)  # (phrase, PNG file) per cited attribute, in order


class ImageUnreadable(FilterSpeakError, ValueError):
    pass


class HeatMapFolderError(FilterSpeakError):
    pass


def check_heat_map_folder(folder: str | Path) -> Path:
    """`folder`, once it is known that it is (or can be made) a writable folder: checked before any
    model work, but created only when the PNGs are written, so a failure in between leaves nothing."""
    path = Path(folder)
    try:
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise HeatMapFolderError(f"cannot write heat maps to {folder}: {existing} is not a folder")
        with tempfile.TemporaryFile(dir=existing):  # a real write: permission bits say nothing for root or a read-only mount
            pass
    except OSError as error:
        raise HeatMapFolderError(f"cannot write heat maps to {folder}: {error.strerror or error}") from None
    return path


def _safe_name(text: str, limit: int) -> str:
    """ASCII letters, digits, dots and underscores, other runs as one dash, no leading dot."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.")[:limit].strip("-.")


def heat_map_stems(image_files: Sequence[str | Path]) -> list[str]:
    """A file-name prefix per image: its stem, with its 1-based position in `image_files` added when
    two stems match (ignoring case, for case-insensitive file systems)."""
    stems = [_safe_name(Path(file).stem, 80) or "image" for file in image_files]
    counts = Counter(stem.casefold() for stem in stems)
    named = [f"{stem}-input{i}" if counts[stem.casefold()] > 1 else stem for i, stem in enumerate(stems, 1)]
    if len({name.casefold() for name in named}) < len(named):  # e.g. "bird", "bird" and "bird-input2"
        named = [f"{stem}-input{i}" for i, stem in enumerate(stems, 1)]
    return named


def heat_map_file(folder: Path, stem: str, rank: int, phrase: str) -> Path:
    """`folder/<stem>-<rank>-<phrase with dashes>.png`; `rank` (from 1) keeps names unique."""
    words = re.sub(r"[^a-z0-9]+", "-", phrase.lower()).strip("-")[:60].strip("-")
    return folder / f"{stem}-{rank}-{words or 'attribute'}.png"


def _write_heat_maps(
    folder: Path, build: BuildView, image_files: Sequence[str | Path], batch: torch.Tensor, feature_maps: torch.Tensor, cited: list
) -> list[list[tuple[str, str]]]:
    """One PNG per cited attribute of each image; (phrase, file) per image, in citation order."""
    weights = build.attribute_map_weights
    size = tuple(batch.shape[-2:])  # the preprocessed image: the network's input
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for i, (stem, attributes) in enumerate(zip(heat_map_stems(image_files), cited)):
            files = []
            if attributes:
                rows = torch.from_numpy(weights[[a.attribute_id for a in attributes]])
                maps = heat_maps(feature_maps[i : i + 1], rows, size)[0].numpy()  # (K, H, W)
                image = batch[i].permute(1, 2, 0).numpy()
                for rank, (attribute, heat) in enumerate(zip(attributes, maps), 1):
                    target = heat_map_file(folder, stem, rank, attribute.phrase)
                    picture = heat_map_image(image, heat, attribute.phrase)
                    atomic_write(target, functools.partial(picture.save, format="PNG"))
                    files.append((attribute.phrase, str(target)))
            written.append(files)
    except OSError as error:
        raise HeatMapFolderError(f"cannot write heat maps to {folder}: {error.strerror or error}") from None
    return written


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
    heatmaps: str | Path | None = None,
) -> list[ImageExplanation]:
    """One explanation per file, in order; with `heatmaps` (a folder, created if missing), also the
    cited attributes' heat maps as PNGs there (see `heat_map_file` for their names)."""
    folder = None if heatmaps is None else check_heat_map_folder(heatmaps)
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
    files = [[] for _ in image_files]
    if folder is not None:
        files = _write_heat_maps(folder, build, image_files, batch, decided.features.feature_maps, [e.cited for e in explained])
    return [
        ImageExplanation(str(file), int(c), names.get(int(c), str(c)), float(probabilities[i, c]), e.sentence, e.cited, written)
        for i, (file, c, e, written) in enumerate(zip(image_files, predicted, explained, files))
    ]
