"""CUB birds on disk: the CUB-200-2011 layout and the `cub100` subset folder.

CUB-200-2011: images.txt ('<id> <class dir>/<file>'), classes.txt ('<id> <NNN.Name>'),
image_class_labels.txt, train_test_split.txt (1 = train), attributes.txt (or
attributes/attributes.txt), attributes/image_attribute_labels.txt (per-image labels),
attributes/class_attribute_labels_continuous.txt, optional Reed captions in
text_c10/<class dir>/<image stem>.txt.
cub100: the same files with ', ' separators and 0-based ids, and the attribute files in
cub_attributes/ (class-level percentages only; classes matched to CUB by name).
Without human captions, captions are derived from the attribute annotations (per-image labels
when present, else sampled per image from the class percentages) and marked 'derived'.
When the class-level percentages are there, `class_definitions` holds each class's attributes
present in at least half of its images (CLASS_TRUTH_PERCENT): the evaluation's ground truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterspeak.datasets.base import DatasetError, LoadedDataset, number_captions, read_dataset_text
from filterspeak.datasets.cub_attributes import derive_captions, read_attributes, read_class_percentages


def _pairs(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise DatasetError(f"missing {path.name} in {path.parent}")
    rows = []
    for number, line in enumerate(read_dataset_text(path).splitlines(), start=1):
        if line.strip():
            parts = re.split(r",\s*|\s+", line.strip(), maxsplit=1)
            if len(parts) != 2:
                raise DatasetError(f"{path}:{number}: expected '<id> <value>', got {line!r}")
            rows.append((parts[0], parts[1].strip()))
    return rows


@dataclass(frozen=True)
class CubOptions:
    captions_per_image: int = 5
    caption_seed: int = 0


def _class_name(raw: str) -> str:
    """'001.Black_footed_Albatross' → 'Black_footed_Albatross'."""
    return raw.split(".", 1)[1] if re.match(r"^\d+\.", raw) else raw


def load_cub(root: Path, options: CubOptions = CubOptions()) -> LoadedDataset:
    """Either layout; ids are re-based to 0 so every dataset's ids start at 0."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    image_rows = _pairs(root / "images.txt")
    base = min(int(i) for i, _ in image_rows)
    classes_raw = _pairs(root / "classes.txt")
    class_base = min(int(i) for i, _ in classes_raw)
    classes = pd.DataFrame({"class_id": [int(i) - class_base for i, _ in classes_raw], "name": [_class_name(n) for _, n in classes_raw]})
    labels = {int(i) - base: int(c) - class_base for i, c in _pairs(root / "image_class_labels.txt")}
    split = {int(i) - base: ("train" if v == "1" else "test") for i, v in _pairs(root / "train_test_split.txt")}
    image_dir = root / "images"
    images = pd.DataFrame({"image_id": [int(i) - base for i, _ in image_rows], "relative": [p for _, p in image_rows]})
    images["path"] = [str(image_dir / p) for p in images["relative"]]
    images["class_id"] = images["image_id"].map(labels)
    images["split"] = images["image_id"].map(split)
    missing = images[images[["class_id", "split"]].isna().any(axis=1)]
    if len(missing):
        raise DatasetError(f"{len(missing)} images have no class label or split, e.g. image {missing['image_id'].iloc[0]}")
    names = dict(zip(classes["class_id"], classes["name"]))
    captions, origin = _reed_captions(root, images), "human"
    if captions is None:
        captions, origin = _derived_captions(root, images, names, options), "derived"
    return LoadedDataset(
        images=images[["image_id", "split", "path", "class_id"]].astype({"class_id": "int64"}),
        classes=classes,
        captions=number_captions(captions, origin),
        class_definitions=_class_truth(root, classes),
    )


CLASS_TRUTH_PERCENT = 50.0


def _class_truth(root: Path, classes: pd.DataFrame) -> pd.DataFrame | None:
    """(class_id, part, phrase): CUB attributes with a visual phrase present in >= 50% of a class's images."""
    attribute_names, class_list, percentages_file, _ = _attribute_files(root)
    if not all(path.is_file() for path in (attribute_names, class_list, percentages_file)):
        return None
    attributes = read_attributes(attribute_names)
    percentages = read_class_percentages(class_list, percentages_file)
    rows = []
    for class_id, name in zip(classes["class_id"], classes["name"]):
        if name not in percentages.index:
            continue
        values = percentages.loc[name].to_numpy()
        for attribute, value in zip(attributes, values):
            if attribute.text and value >= CLASS_TRUTH_PERCENT:
                rows.append((int(class_id), attribute.name.partition("::")[0].removeprefix("has_"), attribute.text))
    return pd.DataFrame(rows, columns=["class_id", "part", "phrase"]).astype({"class_id": np.int64})


def _reed_captions(root: Path, images: pd.DataFrame) -> pd.DataFrame | None:
    text_root = root / "text_c10"
    if not text_root.is_dir():
        return None
    rows = []
    for image_id, relative in zip(images["image_id"], images["relative"]):
        path = (text_root / relative).with_suffix(".txt")
        if path.is_file():
            for line in read_dataset_text(path, errors="replace").splitlines():
                rows.append((image_id, line))
    return pd.DataFrame(rows, columns=["image_id", "text"])


def _attribute_files(root: Path) -> tuple[Path, Path, Path, Path | None]:
    """(attributes.txt, class list, class percentages, per-image labels or None) for either layout."""
    if (root / "cub_attributes").is_dir():
        folder = root / "cub_attributes"
        return folder / "attributes.txt", folder / "cub200_classes.txt", folder / "class_attribute_labels_continuous.txt", None
    folder = root / "attributes"
    names = root / "attributes.txt" if (root / "attributes.txt").is_file() else folder / "attributes.txt"
    labels = folder / "image_attribute_labels.txt"
    return names, root / "classes.txt", folder / "class_attribute_labels_continuous.txt", labels if labels.is_file() else None


def _derived_captions(root: Path, images: pd.DataFrame, names: dict[int, str], options: CubOptions) -> pd.DataFrame:
    attribute_names, class_list, percentages_file, image_labels = _attribute_files(root)
    for path in (attribute_names, class_list, percentages_file):
        if not path.is_file():
            raise DatasetError(f"no captions (text_c10/) and no attribute annotations to derive them from: missing {path}")
    attributes = read_attributes(attribute_names)
    percentages = read_class_percentages(class_list, percentages_file)
    image_classes = pd.DataFrame({"image_id": images["image_id"], "class_name": images["class_id"].map(names)})
    unknown = sorted(set(image_classes["class_name"]) - set(percentages.index))
    if unknown:
        raise DatasetError(f"classes not found in CUB's attribute annotations: {', '.join(unknown[:5])}")
    present = None
    if image_labels is not None:
        try:
            labels = pd.read_csv(image_labels, sep=r"\s+", header=None, usecols=[0, 1, 2], names=["image_id", "attribute_id", "present"])
        except OSError as error:
            raise DatasetError(f"cannot read {image_labels}: {error.strerror or error}") from error
        labels = labels[labels["present"] == 1]
        present = labels.assign(image_id=labels["image_id"] - 1)[["image_id", "attribute_id"]]
    return derive_captions(image_classes, percentages, attributes, options.captions_per_image, options.caption_seed, present)
