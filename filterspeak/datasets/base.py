"""What every dataset loader returns: the tables of the `dataset` stage, as frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from filterspeak.errors import FilterSpeakError

CAPTION_ORIGINS = ("human", "derived", "synthetic")


class DatasetError(FilterSpeakError, ValueError):
    """A dataset folder that is missing files or malformed; the message says what and where."""


def read_dataset_text(path: Path, errors: str = "strict") -> str:
    """The text (UTF-8) of one of the user's dataset files; an unreadable one is a one-line DatasetError."""
    try:
        return path.read_text(encoding="utf-8", errors=errors)
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise DatasetError(f"cannot read {path}: not UTF-8 text (byte {error.start})") from error


@dataclass
class LoadedDataset:
    images: pd.DataFrame  # image_id, split ('train'|'test'), path (absolute), class_id
    classes: pd.DataFrame  # class_id, name
    captions: pd.DataFrame  # caption_id, image_id, text, origin
    image_truth: pd.DataFrame | None = None  # image_id, part, phrase, kind (when known)
    class_definitions: pd.DataFrame | None = None  # class_id, part, phrase (when known)
    artifacts: dict[str, Path] = field(default_factory=dict)  # files the stage keeps (images, masks)
    errors: pd.DataFrame | None = None  # item, reason: what was skipped while loading
    planted_confusions: pd.DataFrame | None = None  # synthetic twins: what tells each from its base


def number_captions(captions: pd.DataFrame, origin: str) -> pd.DataFrame:
    """image_id, text → caption_id, image_id, text, origin (ids in row order)."""
    if origin not in CAPTION_ORIGINS:
        raise ValueError(f"caption origin must be one of {CAPTION_ORIGINS}")
    frame = captions.reset_index(drop=True)
    return pd.DataFrame(
        {"caption_id": range(len(frame)), "image_id": frame["image_id"].astype("int64"), "text": frame["text"], "origin": origin}
    )
