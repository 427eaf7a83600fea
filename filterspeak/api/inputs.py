"""What `explain` takes as images: files, PIL images, arrays and tensors, one or a batch, all
turned into the uint8 batch the network sees by the build's own preprocessing (the same
`fit_image` extraction uses, so a PIL image and the same image saved as a PNG give one result).

- a path (str or os.PathLike): decoded as extraction decodes files;
- a PIL image: any mode, converted to RGB;
- a numpy array (H, W, 3) or (H, W), as PIL gives it;
- a torch tensor (3, H, W), or a batch (N, 3, H, W), as torchvision gives it;
- uint8 values are pixels 0-255; float values are pixels in [0, 1], before any normalisation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from filterspeak.backbones import images as image_loading
from filterspeak.backbones.images import stack_images
from filterspeak.backbones.registry import Preprocessing
from filterspeak.errors import FilterSpeakError

ImageInput = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


class ImageUnreadable(FilterSpeakError, ValueError):
    """An image that cannot be read or is not an image; the message says which and why."""


def is_single(images: Any) -> bool:
    """One image (a path, a PIL image, an (H, W[, 3]) array, a (3, H, W) tensor) rather than a batch."""
    if isinstance(images, str | os.PathLike | Image.Image):
        return True
    if isinstance(images, np.ndarray):
        return images.ndim in (2, 3)
    if isinstance(images, torch.Tensor):
        return images.dim() == 3
    return False


def as_list(images: Any) -> list[ImageInput]:
    """A batch of inputs as a list of single images (a 4-D tensor or array is split on its first axis)."""
    if is_single(images):
        return [images]
    if isinstance(images, torch.Tensor | np.ndarray):
        if images.ndim != 4:
            raise ImageUnreadable(f"an image tensor must be (3, H, W) or a batch (N, 3, H, W); got shape {tuple(images.shape)}")
        return list(images)
    if isinstance(images, Sequence) and not isinstance(images, bytes):
        if not images:
            raise ImageUnreadable("no images given")
        return list(images)
    raise ImageUnreadable(f"cannot read {type(images).__name__} as images: give paths, PIL images, arrays or tensors")


def label_of(image: ImageInput, position: int) -> str:
    """What an explanation calls its image: the path, or `<PIL image 1>` / `<tensor 2>` (1-based)."""
    if isinstance(image, str | os.PathLike):
        return str(image)
    kind = "PIL image" if isinstance(image, Image.Image) else "tensor" if isinstance(image, torch.Tensor) else "array"
    return f"<{kind} {position + 1}>"


def _pixels(values: np.ndarray, what: str) -> np.ndarray:
    """uint8 HWC pixels from uint8, or from floats in [0, 1]."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
        raise ImageUnreadable(f"{what} holds {values.dtype} values: give uint8 pixels or floats in [0, 1]")
    if np.issubdtype(values.dtype, np.integer):
        if values.size and (values.min() < 0 or values.max() > 255):
            raise ImageUnreadable(f"{what} holds integers outside 0-255")
        return values.astype(np.uint8)
    if values.size and (not np.isfinite(values).all() or values.min() < 0 or values.max() > 1):
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        raise ImageUnreadable(
            f"{what} holds floats in [{low:.3g}, {high:.3g}]: give pixels in [0, 1] before normalisation "
            "(the build normalises them with its own mean and std)"
        )
    return np.round(values * 255.0).astype(np.uint8)


def to_pil(image: ImageInput, label: str) -> Image.Image:
    """The input as an RGB PIL image (a file is not opened here: `load` decodes it as extraction does)."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] not in (1, 3):
            raise ImageUnreadable(f"{label}: an image tensor must be (3, H, W) or (1, H, W); got shape {tuple(image.shape)}")
        image = image.detach().to("cpu").permute(1, 2, 0).numpy()
    if isinstance(image, np.ndarray):
        values = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
        if (values.ndim == 3 and values.shape[-1] != 3) or values.ndim not in (2, 3) or 0 in values.shape:
            raise ImageUnreadable(f"{label}: an image array must be (H, W, 3) or (H, W); got shape {tuple(image.shape)}")
        return Image.fromarray(np.ascontiguousarray(_pixels(values, label)))
    raise ImageUnreadable(f"{label}: cannot read {type(image).__name__} as an image")


def load(image: ImageInput, label: str, preprocessing: Preprocessing) -> np.ndarray:
    """(S, S, 3) uint8: the image as the network sees it."""
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.is_file():
            raise ImageUnreadable(f"image not found: {path}")
        try:
            return image_loading.load_image(path, *preprocessing.loading)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise ImageUnreadable(f"cannot read image {path}: {error}") from None
    try:
        return image_loading.fit_image(to_pil(image, label), *preprocessing.loading)
    except (OSError, ValueError) as error:
        if isinstance(error, FilterSpeakError):
            raise
        raise ImageUnreadable(f"cannot read {label}: {error}") from None


def load_batch(images: Sequence[ImageInput], preprocessing: Preprocessing) -> tuple[list[str], torch.Tensor]:
    """(labels, (N, 3, S, S) uint8 batch) of single images, every one read before any model work."""
    labels = [label_of(image, i) for i, image in enumerate(images)]
    pixels = [load(image, label, preprocessing) for image, label in zip(images, labels)]
    return labels, stack_images(pixels, preprocessing.image_size)
