"""The datasets `--dataset` chooses from, one class each in DATASETS: its name, the build options it
takes (what `fs.data` accepts for it), whether its files are generated into the store, and `load`,
which returns a `LoadedDataset`. Adding a dataset is one class here."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pandas as pd

from filterspeak.datasets.base import LoadedDataset, number_captions
from filterspeak.datasets.cub import CubOptions, DatasetError, load_cub
from filterspeak.datasets.folder import load_folder
from filterspeak.datasets.synthetic import SyntheticConfig, generate_synthetic
from filterspeak.errors import OptionError
from filterspeak.registry import Registry


@dataclass(frozen=True)
class DatasetParams:
    """Which dataset, and the values of the build options it declares it takes (its `options`):
    only those key the dataset stage, so a CUB build is not re-keyed by the synthetic knobs."""

    name: str = "synthetic"
    settings: tuple[tuple[str, Any], ...] = ()  # (option, value), in the dataset's declared order
    max_images_per_class: int | None = None  # a quick look at a large dataset: the first N per class and split

    @classmethod
    def of(cls, name: str, max_images_per_class: int | None = None, **settings: Any) -> DatasetParams:
        """`name` with these option values; an option the dataset does not take is refused."""
        declared = DATASETS[name].options
        check_options(name, settings)
        return cls(name, tuple((option, settings[option]) for option in declared if option in settings), max_images_per_class or None)

    def get(self, option: str) -> Any:
        """One of its options' values (None when not given)."""
        return dict(self.settings).get(option)

    def to_dict(self) -> dict:
        return {"name": self.name, **dict(self.settings), "max_images_per_class": self.max_images_per_class}


def check_options(name: str, options: Iterable[str]) -> None:
    """Refuse, in one line with a suggestion, an option dataset `name` does not declare."""
    allowed = (*DATASETS[name].options, "max_images_per_class")
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OptionError(f"dataset {name!r} takes {', '.join(allowed)}; not {key!r}{hint}")


class DatasetSource(Protocol):
    name: str
    help: str
    options: tuple[str, ...]  # the build options it takes (its `DatasetParams.settings`), besides `dataset` and `max_images_per_class`
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
        given = {option: value for option, value in params.settings if value is not None}
        config = SyntheticConfig(**{field: given[option] for option, field in self.fields.items() if option in given})
        generated = generate_synthetic(config, work_dir, progress=progress)
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
        if not params.get("data_dir"):
            raise DatasetError(f"dataset {params.name!r} needs --data-dir (the folder with images.txt)")
        return load_cub(Path(params.get("data_dir")), CubOptions())  # derived captions where it has none of its own


class Cub100(Cub):
    name, help = "cub100", "the 100-species CUB subset shipped beside FilterSpeak, in CUB's layout"


class Folder:
    name, help, generated = "folder", "--data-dir/<class>/<image> with a caption file (--captions)", False
    options = ("data_dir", "captions", "caption_format")

    def load(self, params: DatasetParams, work_dir: Path, progress: bool) -> LoadedDataset:
        if not params.get("data_dir"):
            raise DatasetError("dataset 'folder' needs --data-dir (a folder of class sub-folders)")
        return load_folder(Path(params.get("data_dir")), params.get("captions"), params.get("caption_format"))


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
    if DATASETS[params.name].generated or not params.get("data_dir"):
        return []
    root = Path(params.get("data_dir")).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    if params.get("captions"):
        captions = Path(params.get("captions")).expanduser().resolve()
        files += sorted(p for p in captions.rglob("*") if p.is_file()) if captions.is_dir() else [captions]
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.exists()]


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in columns})
