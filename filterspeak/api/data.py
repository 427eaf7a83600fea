"""`fs.data`: which images and captions a build explains, as the build options that say so
(`BuildOptions` fields, one source of truth: their defaults, checks and help are the CLI's).
Named `data`, not `datasets`: `filterspeak.datasets` is the package that loads them.

    fs.data.synthetic()                                   # the built-in birds (the default)
    fs.data.cub100("../shared/data/cub100", max_images_per_class=2)
    fs.data.cub("/data/CUB_200_2011")
    fs.data.folder("/data/my_images", captions="captions.jsonl")
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from filterspeak.datasets.registry import check_options


@dataclass(frozen=True)
class Dataset:
    """A dataset choice: its name and the build options it sets."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def build_options(self) -> dict[str, Any]:
        return {"dataset": self.name, **self.options}


def _dataset(name: str, options: dict[str, Any]) -> Dataset:
    check_options(name, options)  # the options the dataset declares
    return Dataset(name, {key: value for key, value in options.items() if value is not None})


def synthetic(**options: Any) -> Dataset:
    """The built-in synthetic birds (options: dataset_seed, num_classes, images_per_class, image_size,
    confusable_pairs, max_images_per_class)."""
    return _dataset("synthetic", options)


def cub(data_dir: str | os.PathLike, **options: Any) -> Dataset:
    """CUB-200-2011 in its own layout (images.txt, ...) at `data_dir` (option: max_images_per_class)."""
    return _dataset("cub", {"data_dir": str(data_dir), **options})


def cub100(data_dir: str | os.PathLike, **options: Any) -> Dataset:
    """The 100-species CUB subset shipped beside FilterSpeak (option: max_images_per_class)."""
    return _dataset("cub100", {"data_dir": str(data_dir), **options})


def folder(data_dir: str | os.PathLike, captions: str | os.PathLike | None = None, **options: Any) -> Dataset:
    """`data_dir/<class>/<image>` with a caption file (options: caption_format, max_images_per_class)."""
    return _dataset("folder", {"data_dir": str(data_dir), "captions": None if captions is None else str(captions), **options})
