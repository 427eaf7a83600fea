"""The built-in "planted birds" dataset: synthetic birds with known, planted attributes.

``generate_synthetic(SyntheticConfig(), root)`` draws ``num_classes x images_per_class``
cartoon birds (crown, beak, breast, wing, tail on a head and body) on smooth varied
backgrounds, writes them as PNGs plus a per-pixel part mask archive, and returns the tables:
images, classes, captions, the per-image ground truth of every attribute present, and the
attributes that define each class. Everything is a deterministic function of the config.

Randomness: image ``i`` uses ``SeedSequence([seed, i])`` spawned into three independent
streams (bird spec, rendering, captions), so changing the caption code does not change the
pictures, and any single image can be regenerated alone. The split uses its own stream.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from filterspeak.datasets.synthetic_captions import make_caption, make_captions
from filterspeak.datasets.synthetic_render import PART_LABELS, render_bird
from filterspeak.datasets.synthetic_spec import (
    CLASS_CATALOGUE,
    COLOURS,
    MAX_CLASSES,
    MIN_CLASSES,
    PALETTE,
    PARTS,
    BirdSpec,
    ClassSpec,
    PartSpec,
    class_specs,
    phrase_kind,
    planted_differences,
    sample_bird,
    species,
    split_phrase,
)
from filterspeak.errors import OptionError
from filterspeak.files import atomic_write
from filterspeak.progress import iterate

__all__ = [
    "CLASS_CATALOGUE",
    "COLOURS",
    "MAX_CLASSES",
    "MIN_CLASSES",
    "PALETTE",
    "PARTS",
    "PART_LABELS",
    "BirdSpec",
    "ClassSpec",
    "PartSpec",
    "SyntheticConfig",
    "SyntheticDataset",
    "class_definitions_table",
    "class_specs",
    "generate_synthetic",
    "image_rngs",
    "make_caption",
    "make_captions",
    "render_bird",
    "sample_bird",
]

PLANTED_COLUMNS = ("twin_class_id", "base_class_id", "part", "base_phrase", "twin_phrase")
_SPLIT_STREAM = 0x5EED5  # extra SeedSequence word for the train/test split stream


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the planted-birds dataset (all outputs are a function of these)."""

    seed: int = 0
    num_classes: int = 16
    images_per_class: int = 200
    image_size: int = 64
    test_fraction: float = 0.3
    captions_per_image: int = 5
    caption_noise: float = 0.05  # probability that a caption states a wrong colour for a part
    confusable_pairs: int = 0  # twin species added, each one attribute away from an existing one

    def __post_init__(self) -> None:
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise OptionError(f"seed must be a non-negative integer, got {self.seed!r}")
        species(self.num_classes, self.confusable_pairs)  # raises OptionError: fewer than 12 or more than the catalogue
        if int(self.images_per_class) < 1:
            raise OptionError(f"images_per_class must be >= 1, got {self.images_per_class}")
        if int(self.image_size) < 32:
            raise OptionError(f"image_size must be >= 32 pixels, got {self.image_size}")
        if not 0.0 <= float(self.test_fraction) < 1.0:
            raise OptionError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if int(self.captions_per_image) < 1:
            raise OptionError(f"captions_per_image must be >= 1, got {self.captions_per_image}")
        if not 0.0 <= float(self.caption_noise) <= 1.0:
            raise OptionError(f"caption_noise must be in [0, 1], got {self.caption_noise}")

    @property
    def species(self) -> tuple[ClassSpec, ...]:
        """Every species of the dataset: the catalogue's first `num_classes`, then the twins."""
        return species(self.num_classes, self.confusable_pairs)

    @property
    def num_images(self) -> int:
        return len(self.species) * int(self.images_per_class)


@dataclass
class SyntheticDataset:
    """Tables and file locations of a generated planted-birds dataset.

    ``images.path`` is relative to ``root``; ``masks_path`` is ``root / 'masks.npz'`` with
    arrays ``image_id`` (N,) int64 and ``masks`` (N, H, W) uint8 of :data:`PART_LABELS`.
    """

    root: Path
    images: pd.DataFrame
    classes: pd.DataFrame
    captions: pd.DataFrame
    image_truth: pd.DataFrame
    class_definitions: pd.DataFrame
    masks_path: Path
    planted_confusions: pd.DataFrame | None = None  # twin_class_id, base_class_id, part, base_phrase, twin_phrase

    def load_masks(self) -> tuple[np.ndarray, np.ndarray]:
        """``(image_id, masks)`` from the mask archive."""
        with np.load(self.masks_path) as z:
            return z["image_id"].copy(), z["masks"].copy()


def image_rngs(seed: int, image_id: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """The (spec, render, caption) generators of one image."""
    children = np.random.SeedSequence([int(seed), int(image_id)]).spawn(3)
    return tuple(np.random.default_rng(c) for c in children)  # type: ignore[return-value]


def class_definitions_table(num_classes: int, confusable_pairs: int = 0) -> pd.DataFrame:
    """class_id, part, phrase, kind for the defining attributes of each class."""
    rows = []
    for cls in species(num_classes, confusable_pairs):
        for phrase in cls.definition:
            _, part = split_phrase(phrase)
            rows.append((cls.class_id, part, phrase, phrase_kind(phrase)))
    df = pd.DataFrame(rows, columns=["class_id", "part", "phrase", "kind"])
    df["class_id"] = df["class_id"].astype("int64")
    for col in ("part", "phrase", "kind"):
        df[col] = df[col].astype(str)
    return df


def _split(config: SyntheticConfig) -> list[str]:
    """'train'/'test' per image (class-major order), exactly round(test_fraction * n) test per class."""
    n = int(config.images_per_class)
    n_test = round(float(config.test_fraction) * n)
    if config.test_fraction > 0 and n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), _SPLIT_STREAM]))
    out: list[str] = []
    for _ in range(len(config.species)):
        is_test = np.zeros(n, dtype=bool)
        is_test[rng.permutation(n)[:n_test]] = True
        out.extend("test" if t else "train" for t in is_test)
    return out


def _string_frame(rows: list[tuple], columns: list[str], ints: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in columns:
        df[col] = df[col].astype("int64") if col in ints else df[col].astype(str)
    return df


def generate_synthetic(config: SyntheticConfig, root: Path, progress: bool = False) -> SyntheticDataset:
    """Write ``root/images/*.png`` and ``root/masks.npz``; return the tables (not written).

    Image ids run 0..N-1 in class-major order (class 0's images first). Same config ->
    byte-identical PNGs and mask archive, identical tables.
    """
    if not isinstance(config, SyntheticConfig):
        raise TypeError(f"config must be a SyntheticConfig, got {type(config).__name__}")
    root = Path(root)
    image_dir = root / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    size = int(config.image_size)
    n_images = config.num_images
    width = max(5, len(str(n_images - 1)))
    splits = _split(config)

    image_rows: list[tuple] = []
    caption_rows: list[tuple] = []
    truth_rows: list[tuple] = []
    masks = np.zeros((n_images, size, size), dtype=np.uint8)

    caption_id = 0
    for image_id in iterate(range(n_images), "planted birds", n_images, unit="img", enabled=progress):
        class_id = image_id // int(config.images_per_class)
        spec_rng, render_rng, caption_rng = image_rngs(config.seed, image_id)
        spec = sample_bird(class_id, config, spec_rng)
        image, mask = render_bird(spec, size, render_rng)
        rel = f"images/{image_id:0{width}d}.png"
        _save_png(image, root / rel)
        masks[image_id] = mask
        image_rows.append((image_id, splits[image_id], rel, class_id))
        for text in make_captions(spec, config.captions_per_image, config.caption_noise, caption_rng):
            caption_rows.append((caption_id, image_id, text))
            caption_id += 1
        for part, phrase, kind in spec.truth():
            truth_rows.append((image_id, part, phrase, kind))

    masks_path = root / "masks.npz"
    _write_npz(masks_path, {"image_id": np.arange(n_images, dtype=np.int64), "masks": masks})

    classes = _string_frame([(c.class_id, c.name) for c in config.species], ["class_id", "name"], ["class_id"])
    planted = [
        (d.twin_class_id, d.base_class_id, d.part, d.base_phrase, d.twin_phrase)
        for d in planted_differences(config.num_classes, config.confusable_pairs)
    ]
    return SyntheticDataset(
        root=root,
        images=_string_frame(image_rows, ["image_id", "split", "path", "class_id"], ["image_id", "class_id"]),
        classes=classes,
        captions=_string_frame(caption_rows, ["caption_id", "image_id", "text"], ["caption_id", "image_id"]),
        image_truth=_string_frame(truth_rows, ["image_id", "part", "phrase", "kind"], ["image_id"]),
        class_definitions=class_definitions_table(config.num_classes, config.confusable_pairs),
        masks_path=masks_path,
        planted_confusions=_string_frame(planted, list(PLANTED_COLUMNS), ["twin_class_id", "base_class_id"]),
    )


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Byte-reproducible compressed ``.npz`` (fixed zip timestamps), written atomically.

    ``np.savez_compressed`` stamps entries with the current time, which would make the archive's
    content hash differ between otherwise identical runs.
    """

    def save(stream) -> None:
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, array in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=6)

    atomic_write(path, save)


def _save_png(image: np.ndarray, path: Path) -> None:
    """Deterministic PNG write (no metadata; fast zlib level)."""
    Image.fromarray(np.ascontiguousarray(image)).save(path, format="PNG", compress_level=1)
