"""The datasets `--dataset` chooses from, one class each in DATASETS: its name, the build options it
takes (what `fs.data` accepts for it), whether its files are generated into the store, and `load`,
which returns a `LoadedDataset`. Adding a dataset is one class here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import pandas as pd

from filterspeak.datasets.base import LoadedDataset, number_captions
from filterspeak.datasets.cub import CubOptions, DatasetError, load_cub
from filterspeak.datasets.folder import load_folder
from filterspeak.datasets.synthetic import SyntheticConfig, generate_synthetic
from filterspeak.registry import Registry


@dataclass(frozen=True)
class DatasetParams:
    """Which dataset, where, and how to caption it when it has no captions of its own."""

    name: str = "synthetic"
    data_dir: str | None = None  # required by every dataset but `synthetic`
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    captions_per_image: int = 5  # derived captions (CUB without Reed captions)
    caption_seed: int = 0
    max_images_per_class: int | None = None  # a quick look at a large dataset: the first N per class and split
    captions: str | None = None  # caption file (dataset `folder`)
    caption_format: str | None = None  # cub, coco, flickr8k, jsonl or csv

    def to_dict(self) -> dict:
        values = asdict(self)
        if self.name != "synthetic":
            values.pop("synthetic")
        return values


class DatasetSource(Protocol):
    name: str
    help: str
    options: tuple[str, ...]  # the build options it takes, besides `dataset` and `max_images_per_class`
    generated: bool  # its files are written into the store (else: read where they are, and checked)

    def load(self, params: DatasetParams, work_dir: Path, progress: bool) -> LoadedDataset: ...


class Synthetic:
    name, help, generated = "synthetic", "the built-in synthetic birds, drawn into the store", True
    #: its build options, each a field of SyntheticConfig: option -> field
    fields: ClassVar[dict[str, str]] = {
        "dataset_seed": "seed",
        "num_classes": "num_classes",
        "images_per_class": "images_per_class",
        "image_size": "image_size",
        "confusable_pairs": "confusable_pairs",
    }
    options = tuple(fields)

    def load(self, params: DatasetParams, work_dir: Path, progress: bool) -> LoadedDataset:
        generated = generate_synthetic(params.synthetic, work_dir, progress=progress)
        images = generated.images.copy()
        images["path"] = [str(work_dir / relative) for relative in images["path"]]
        return LoadedDataset(
            images=images,
            classes=generated.classes,
            captions=number_captions(generated.captions[["image_id", "text"]], "synthetic"),
            image_truth=generated.image_truth,
            class_definitions=generated.class_definitions[["class_id", "part", "phrase"]],
            artifacts={"images": work_dir / "images", "masks": generated.masks_path},
            planted_confusions=generated.planted_confusions,
        )


class Cub:
    name, help, options, generated = "cub", "CUB-200-2011 in its own layout (images.txt, ...) at --data-dir", ("data_dir",), False

    def load(self, params: DatasetParams, work_dir: Path, progress: bool) -> LoadedDataset:
        if not params.data_dir:
            raise DatasetError(f"dataset {params.name!r} needs --data-dir (the folder with images.txt)")
        return load_cub(Path(params.data_dir), CubOptions(params.captions_per_image, params.caption_seed))


class Cub100(Cub):
    name, help = "cub100", "the 100-species CUB subset shipped beside FilterSpeak, in CUB's layout"


class Folder:
    name, help, generated = "folder", "--data-dir/<class>/<image> with a caption file (--captions)", False
    options = ("data_dir", "captions", "caption_format")

    def load(self, params: DatasetParams, work_dir: Path, progress: bool) -> LoadedDataset:
        if not params.data_dir:
            raise DatasetError("dataset 'folder' needs --data-dir (a folder of class sub-folders)")
        return load_folder(Path(params.data_dir), params.captions, params.caption_format)


DATASETS: Registry[DatasetSource] = Registry("dataset", (Cub(), Cub100(), Folder(), Synthetic()))


def load_dataset(params: DatasetParams, work_dir: Path, progress: bool = True) -> LoadedDataset:
    loaded = DATASETS[params.name].load(params, work_dir, progress)
    return subsample(loaded, params.max_images_per_class) if params.max_images_per_class else loaded


def subsample(loaded: LoadedDataset, per_class: int) -> LoadedDataset:
    """Keep the first `per_class` images (by id) of each class in each split, and their captions."""
    images = loaded.images.sort_values("image_id").groupby(["class_id", "split"], sort=False).head(per_class)
    images = images.sort_values("image_id").reset_index(drop=True)
    keep = set(images["image_id"])

    def only(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None else frame[frame["image_id"].isin(keep)].reset_index(drop=True)

    return LoadedDataset(
        images,
        loaded.classes,
        only(loaded.captions),
        only(loaded.image_truth),
        loaded.class_definitions,
        loaded.artifacts,
        loaded.errors,
        loaded.planted_confusions,
    )


def source_signature(params: DatasetParams) -> list:
    """What an external dataset's content is keyed on: every file's (path, size, mtime)."""
    if DATASETS[params.name].generated or not params.data_dir:
        return []
    root = Path(params.data_dir).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    if params.captions:
        captions = Path(params.captions).expanduser().resolve()
        files += sorted(p for p in captions.rglob("*") if p.is_file()) if captions.is_dir() else [captions]
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.exists()]


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in columns})
