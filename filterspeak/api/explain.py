"""Explain new images with a finished build's model, decision head and filter–attribute distributions.

Images of any kind (`filterspeak.api.inputs`: files, PIL images, arrays, tensors). Each
explanation keeps the image as the network saw it and the layer's feature maps, so
`heatmap(phrase)` draws any attribute's map M_a (`filterspeak.interpret.heatmaps`, the maps the
grounding metric scores). With a heat-map folder (`filterspeak explain --heatmaps`), each cited
attribute also gets a PNG there, titled with the phrase.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from filterspeak.api import cards
from filterspeak.api.inputs import ImageInput, ImageUnreadable, load_batch
from filterspeak.backbones.devices import resolve_device
from filterspeak.errors import FilterSpeakError
from filterspeak.files import atomic_write
from filterspeak.interpret.decisions import explain_decisions
from filterspeak.interpret.heatmap_images import heat_map_image
from filterspeak.interpret.heatmaps import heat_maps
from filterspeak.interpret.sentences import CitedAttribute
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.decisions import head_of
from filterspeak.tasks.graph import BuildView, open_build
from filterspeak.tasks.readers import vocabulary_of

__all__ = ["Explanation", "ImageUnreadable", "explain_image_files", "explain_images"]
TOP_FILTERS = 10  # filter contributions an explanation keeps

# A phrase -> its attribute id in the build's vocabulary (a one-line error with suggestions otherwise).
PhraseResolver = Callable[[str], int]


@dataclass(frozen=True, eq=False)
class Explanation:
    """One decision explained: the predicted class, the sentence, the cited attributes with their
    scores p(a|x,ĉ), the filters that contributed most to the decision, and the heat map of any
    attribute (`heatmap`). In Jupyter it shows itself as a decision card."""

    path: str  # the image file, or `<PIL image 1>`, `<tensor 2>` for images given as objects
    predicted_class_id: int
    class_name: str
    probability: float
    sentence: str
    cited: list[CitedAttribute]
    contributions: pd.DataFrame = field(repr=False)  # filter, contribution α_f, share of the decision, top attribute
    image: np.ndarray = field(repr=False)  # (S, S, 3) uint8: the image as the network saw it
    heatmaps: list[tuple[str, str]] = field(default_factory=list)  # (phrase, PNG file) written per cited attribute
    _feature_maps: torch.Tensor | None = field(default=None, repr=False)  # (F, h, w) of the explained layer
    _map_weights: np.ndarray | None = field(default=None, repr=False)  # (A, F) p(f|a)
    _resolve: PhraseResolver | None = field(default=None, repr=False)

    def heat_map(self, phrase: str) -> np.ndarray:
        """(S, S) M_a for `phrase` (a vocabulary phrase, or a caption's words for one: "red wings")."""
        attribute = self._resolve(phrase)
        rows = torch.from_numpy(self._map_weights[[attribute]])
        return heat_maps(self._feature_maps[None], rows, self.image.shape[:2])[0, 0].numpy()

    def heatmap(self, phrase: str) -> Image.Image:
        """The image with `phrase`'s heat map overlaid, titled with the phrase (what --heatmaps writes)."""
        return heat_map_image(self.image, self.heat_map(phrase), phrase)

    def to_dict(self) -> dict:
        """What `filterspeak explain --json` prints for it."""
        output = {
            "image": self.path,
            "class": self.class_name,
            "probability": round(self.probability, 4),
            "sentence": self.sentence,
            "attributes": [{"phrase": c.phrase, "score": round(c.score, 4)} for c in self.cited],
        }
        if self.heatmaps:
            output["heatmaps"] = [{"phrase": phrase, "file": file} for phrase, file in self.heatmaps]
        return output

    def _repr_html_(self) -> str:
        return cards.decision_card(self)


class Explanations(list):
    """The explanations of a batch, in order; in Jupyter a column of decision cards."""

    def _repr_html_(self) -> str:
        return "".join(cards.decision_card(item) for item in self)


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
    folder: Path, build: BuildView, image_files: Sequence[str], batch: torch.Tensor, feature_maps: torch.Tensor, cited: list
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


def _contributions(row: np.ndarray, pdf: np.ndarray, phrases: list[str]) -> pd.DataFrame:
    """The TOP_FILTERS filters contributing most to one decision, with their share of the
    positive contributions and the attribute each is most likely to show (argmax p(a|f))."""
    order = np.lexsort((np.arange(len(row)), -row))[:TOP_FILTERS]
    positive = np.clip(row, 0, None).sum()
    top = pdf[order].argmax(axis=1) if pdf.shape[1] else np.zeros(len(order), int)
    return pd.DataFrame(
        {
            "filter": order.astype(int),
            "contribution": row[order],
            "share": np.clip(row[order], 0, None) / positive if positive > 0 else np.zeros(len(order)),
            "top_attribute": [phrases[a] if len(phrases) else "" for a in top],
        }
    )


def explain_images(
    build: BuildView,
    images: Sequence[ImageInput],
    device: str = "auto",
    top_k: int | None = None,
    heatmaps: str | Path | None = None,
    resolve: PhraseResolver | None = None,
) -> list[Explanation]:
    """One explanation per image, in order; every image is read before any model work. With
    `heatmaps` (a folder, created if missing) the cited attributes' heat maps are written there
    as PNGs (see `heat_map_file` for their names); `resolve` turns a phrase into an attribute for
    `Explanation.heatmap` (default: the vocabulary phrase as it is)."""
    folder = None if heatmaps is None else check_heat_map_folder(heatmaps)
    options = build.options
    preprocessing = options.preprocessing
    labels, batch = load_batch(images, preprocessing)
    torch_device = resolve_device(device)
    model = build.model().to(torch_device)
    classes = build.read("classes")
    names = dict(zip(classes["class_id"], classes["name"]))
    head = head_of(build.table_result("predictions"))
    decided = head.decide(model, build.layer, batch, preprocessing, torch_device)
    probabilities, predicted = decided.probabilities, decided.predicted
    vocabulary, pdf = vocabulary_of(build), build.pdf
    explained = explain_decisions(
        decided.contributions,
        predicted,
        pdf,
        vocabulary,
        names,
        top_k or options.sentence_attributes,
        options.min_relative_score,
        head.method,
    )
    files = [[] for _ in labels]
    if folder is not None:
        files = _write_heat_maps(folder, build, labels, batch, decided.features.feature_maps, [e.cited for e in explained])
    resolve = resolve or _exact_phrase(vocabulary.phrases)
    weights = build.attribute_map_weights
    maps = decided.features.feature_maps
    return Explanations(
        Explanation(
            label,
            int(c),
            names.get(int(c), str(c)),
            float(probabilities[i, c]),
            e.sentence,
            e.cited,
            _contributions(np.asarray(decided.contributions[i], dtype=np.float64), pdf, vocabulary.phrases),
            batch[i].permute(1, 2, 0).numpy(),
            written,
            maps[i],
            weights,
            resolve,
        )
        for i, (label, c, e, written) in enumerate(zip(labels, predicted, explained, files))
    )


def _exact_phrase(phrases: list[str]) -> PhraseResolver:
    index = {phrase: a for a, phrase in enumerate(phrases)}

    def resolve(phrase: str) -> int:
        key = " ".join(str(phrase).lower().split())
        if key not in index:
            raise FilterSpeakError(f"unknown phrase {phrase!r}: not in the build's vocabulary")
        return index[key]

    return resolve


def explain_image_files(
    paths: StorePaths,
    image_files: Sequence[str | Path],
    backbone: str | None = None,
    layer: str | None = None,
    device: str = "auto",
    top_k: int | None = None,
    heatmaps: str | Path | None = None,
) -> list[Explanation]:
    """`explain_images` for the store's latest build (or the named backbone/layer): what
    `filterspeak explain` and the `explain` flow run. The heat-map folder is checked first."""
    if heatmaps is not None:
        check_heat_map_folder(heatmaps)
    return explain_images(open_build(paths, backbone, layer), image_files, device, top_k, heatmaps)
