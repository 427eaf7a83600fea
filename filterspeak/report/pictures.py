"""The report's image files: thumbnails of the images as the network saw them, cached once per
(image, size) for every page and every rebuild, and the small overlays drawn over them.

An overlay is a feature map (or a heat map M_a) at the layer's own resolution, e.g. 13 × 13, as
an RGBA PNG: the page stretches it over the thumbnail and the browser interpolates it, which is
the bilinear upsampling `interpret.heatmaps` does, for a file of a few hundred bytes instead of a
picture per (image, map).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from filterspeak.backbones.images import load_image
from filterspeak.files import atomic_write
from filterspeak.interpret.heatmap_images import colourise

THUMBNAIL = 128  # the largest thumbnail side, in pixels (pages show them at 112 or 192 CSS pixels)
DIMMED = 0.8  # opacity of the black over where a filter does not fire at all
HEAT_ALPHA = 0.5  # opacity of a heat map's colours (filterspeak.interpret.heatmap_images.ALPHA)


class Thumbnails:
    """Thumbnails under `folder` (the store's `thumbnails/`), named by what decides their pixels:
    the file (path, size, modification time), the network's crop (size, resize) and the
    thumbnail's size. Made once; later reports and rebuilds link them."""

    def __init__(self, folder: Path, image_size: int, resize: int | None, workers: int = 2) -> None:
        self.folder = folder
        self.image_size, self.resize = image_size, resize
        self.size = min(image_size, THUMBNAIL)
        self.workers = workers
        self.made = 0  # thumbnails this object had to make (the rest were cached)

    def _key(self, file: str) -> str:
        stat = os.stat(file)
        identity = f"{os.path.abspath(file)}|{stat.st_size}|{stat.st_mtime_ns}|{self.image_size}|{self.resize}|{self.size}"
        return hashlib.sha256(identity.encode()).hexdigest()[:24]

    def _make(self, file: str, target: Path) -> None:
        seen = Image.fromarray(load_image(file, self.image_size, self.resize))
        if seen.size != (self.size, self.size):
            seen = seen.resize((self.size, self.size), Image.Resampling.LANCZOS)
        atomic_write(target, lambda stream: seen.save(stream, format="JPEG", quality=85))

    def cached(self, files: list[str]) -> list[Path]:
        """The cached thumbnail of each file, making the missing ones (in `workers` threads: PIL
        decodes without the GIL)."""
        targets = [self.folder / str(self.size) / f"{self._key(file)}.jpg" for file in files]
        missing = {target: file for file, target in zip(files, targets) if not target.exists()}
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(self._make, missing.values(), missing.keys()))
        self.made += len(missing)
        return targets


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link (no space, no time) where the file system allows one, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        pass
    except OSError:
        shutil.copyfile(source, target)


def dimming_overlay(feature_map: np.ndarray, peak: float) -> Image.Image:
    """Black, transparent where the filter fires at `peak` and DIMMED where it does not fire: the
    strip of a filter's top images shows where it fires, comparable across the strip."""
    strength = np.clip(np.nan_to_num(feature_map) / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(feature_map)
    alpha = np.round(255 * DIMMED * (1.0 - strength)).astype(np.uint8)
    rgba = np.zeros((*feature_map.shape, 4), dtype=np.uint8)
    rgba[..., 3] = alpha
    return Image.fromarray(rgba, "RGBA")


def heat_overlay(heat: np.ndarray) -> Image.Image:
    """The heat map's colours (scaled to its own range, as `explain --heatmaps` draws them) at HEAT_ALPHA."""
    rgb = colourise(heat)
    alpha = np.full((*heat.shape, 1), round(255 * HEAT_ALPHA), dtype=np.uint8)
    return Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA")


def save_png(picture: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, format="PNG")
