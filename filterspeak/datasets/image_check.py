"""Is an image file usable? One reason string per kind of bad file, so the dataset stage can
record and skip it instead of failing the run later in extraction."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, UnidentifiedImageError


def check_image(path: str | Path) -> str | None:
    """None when the file decodes as an image; otherwise why not."""
    path = Path(path)
    if not path.is_file():
        return "image file not found"
    if path.stat().st_size == 0:
        return "empty image file (0 bytes)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft("RGB", (256, 256))  # JPEGs decode at reduced scale: fast, still complete
                image.load()
    except UnidentifiedImageError:
        return "not an image file"
    except Image.DecompressionBombError as error:
        return f"image too large to decode safely ({error})"
    except (OSError, SyntaxError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"truncated or corrupt image ({message})"
    return None


def check_images(paths: Iterable[str | Path], workers: int = 2) -> list[str | None]:
    """`check_image` over many files, in threads (decoding releases the GIL). The warning filter is
    set here too: `catch_warnings` is process-wide, so one thread leaving its block could
    otherwise let another thread's decompression-bomb warning through."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(check_image, paths))
