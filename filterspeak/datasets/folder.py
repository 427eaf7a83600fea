"""A folder of class sub-folders (`DIR/<class>/<image>`) plus a caption file in any supported format.

Classes are the sub-folder names (sorted), image ids follow the sorted relative paths, and the
split is a deterministic hash of each relative path (about `test_fraction` of the images go to
test), so adding images never reshuffles the others. Captions are matched to images by
`match_images` (relative path, then path suffix, then unique stem); unmatched captions and
uncaptioned images are recorded as errors, never fatal.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from filterspeak.captions.cleaning import match_images
from filterspeak.captions.sources import read_captions
from filterspeak.datasets.base import LoadedDataset, number_captions
from filterspeak.datasets.cub import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _is_test(relative: str, test_fraction: float) -> bool:
    return int(hashlib.sha1(relative.encode()).hexdigest()[:8], 16) % 10_000 < test_fraction * 10_000


def load_folder(root: Path, captions_path: str | None, caption_format: str | None, test_fraction: float = 0.3) -> LoadedDataset:
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    if not captions_path or not caption_format:
        raise DatasetError("dataset 'folder' needs --captions FILE and --caption-format (cub, coco, flickr8k, jsonl or csv)")
    files = sorted(p for p in root.glob("*/*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"no images found as {root}/<class>/<image> ({', '.join(sorted(IMAGE_SUFFIXES))})")
    class_names = sorted({p.parent.name for p in files})
    class_ids = {name: index for index, name in enumerate(class_names)}
    relative = [str(p.relative_to(root)) for p in files]
    images = pd.DataFrame(
        {
            "image_id": range(len(files)),
            "split": ["test" if _is_test(r, test_fraction) else "train" for r in relative],
            "path": [str(p) for p in files],
            "class_id": [class_ids[p.parent.name] for p in files],
            "relative": relative,
        }
    )
    try:
        raw, error_rows = read_captions(captions_path, caption_format)
    except OSError as error:  # the user's --captions file: missing (FileNotFoundError), unreadable
        raise DatasetError(f"cannot read the caption file {captions_path}: {error.strerror}" if error.strerror else str(error)) from error
    matched, match_errors = match_images(raw, dict(zip(images["relative"], images["image_id"])))
    error_rows = list(error_rows) + list(match_errors)
    uncaptioned = images[~images["image_id"].isin(set(matched["image_id"]))]
    error_rows += [{"item": f"image {r}", "reason": "image has no captions"} for r in uncaptioned["relative"]]
    return LoadedDataset(
        images=images[["image_id", "split", "path", "class_id"]],
        classes=pd.DataFrame({"class_id": range(len(class_names)), "name": class_names}),
        captions=number_captions(matched[["image_id", "text"]], "human"),
        errors=pd.DataFrame(error_rows, columns=["item", "reason"]),
    )
