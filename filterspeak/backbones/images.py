"""Image files → normalised tensors, the same way for training, extraction and `explain`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:  # not at run time: loader workers import this module, and the registry imports torchvision
    from filterspeak.backbones.registry import Preprocessing


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode → 8-bit RGB: 16-bit and 32-bit integer greys are scaled, not clipped; alpha is dropped."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), "L").convert("RGB")
    return image.convert("RGB")


INTERPOLATIONS = ("bilinear", "bicubic", "nearest")  # the resampling of the resize (Preprocessing.interpolation)


def load_image(path: str | Path, size: int, resize: int | None = None, interpolation: str = "bilinear") -> np.ndarray:
    """RGB uint8 array (size, size, 3) of an image file; any mode (greyscale, RGBA, CMYK) is
    converted to RGB, and large JPEGs are decoded at reduced scale first (`fit_image` does the rest)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # a 10,000² photo is fine: it is shrunk
        with Image.open(path) as image:
            image.draft("RGB", (resize or size, resize or size))  # large JPEGs decode at reduced scale
            rgb = _to_rgb(image)
        return fit_image(rgb, size, resize, interpolation)


def fit_image(image: Image.Image, size: int, resize: int | None = None, interpolation: str = "bilinear") -> np.ndarray:
    """RGB uint8 array (size, size, 3) of a PIL image, as the network sees it.

    With `resize`, the shorter side is scaled to `resize` and the centre `size` square cropped
    (torchvision's ImageNet evaluation transform); without, the image is scaled to size×size.
    `interpolation` is one of INTERPOLATIONS."""
    rgb = image if image.mode == "RGB" else _to_rgb(image)  # a decoded file is RGB already: no copy
    method = Image.Resampling[interpolation.upper()]
    if resize is None:
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), method)
    else:
        width, height = rgb.size
        scale = resize / min(width, height)
        rgb = rgb.resize((max(size, round(width * scale)), max(size, round(height * scale))), method)
        left, top = (rgb.size[0] - size) // 2, (rgb.size[1] - size) // 2
        rgb = rgb.crop((left, top, left + size, top + size))
    return np.asarray(rgb, dtype=np.uint8)


def stack_images(arrays: Sequence[np.ndarray], size: int | None = None) -> torch.Tensor:
    """(size, size, 3) uint8 arrays → one contiguous (N, 3, size, size) uint8 tensor (`size` is
    needed only for N = 0). Contiguous, not channels-last, whatever the loader: the layout of the
    network's input decides which convolution kernels run, and so the float results."""
    stacked = np.stack(arrays) if len(arrays) else np.zeros((0, size or 0, size or 0, 3), np.uint8)
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


def load_images(paths: Sequence[str | Path], size: int, resize: int | None = None, interpolation: str = "bilinear") -> torch.Tensor:
    """(N, 3, size, size) uint8 tensor."""
    return stack_images([load_image(path, size, resize, interpolation) for path in paths], size)


def normalise(batch: torch.Tensor, preprocessing: Preprocessing) -> torch.Tensor:
    """uint8 (B,3,H,W) → float, scaled and normalised, on the batch's device."""
    # made on the CPU and copied without waiting: creating them on a CUDA device would wait for
    # every kernel queued before (extraction queues the next batch before reading the last one)
    mean = torch.tensor(preprocessing.mean).view(1, 3, 1, 1).to(batch.device, non_blocking=True)
    std = torch.tensor(preprocessing.std).view(1, 3, 1, 1).to(batch.device, non_blocking=True)
    return (batch.float() / 255.0 - mean) / std


def iterate_batches(paths: Sequence[str | Path], preprocessing: Preprocessing, batch_size: int) -> Iterator[tuple[slice, torch.Tensor]]:
    """Stream (positions, uint8 batch) so a large image set never sits in memory at once."""
    for start in range(0, len(paths), batch_size):
        stop = min(start + batch_size, len(paths))
        yield slice(start, stop), load_images(paths[start:stop], *preprocessing.loading)
