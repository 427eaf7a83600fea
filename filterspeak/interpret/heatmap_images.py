"""Drawing a heat map over its image: pure (arrays in, a PIL image out), with PIL and numpy only.

The picture is the image exactly as the network saw it (after resizing and cropping), so a pixel
of the map is a pixel of the network's input; a title strip with the phrase sits above it. The
PNG is therefore the image's width, and `title_height(...)` taller than the image: the image area
is its bottom `height` rows. No legend: the colours are relative (each map is scaled to its own
minimum and maximum), so only where the map is high matters, not its value.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ALPHA = 0.5  # weight of the colour map over the image
PADDING = 2  # pixels around the title's lines

# A jet-like colour map (dark blue → blue → cyan → yellow → red → dark red), as anchors
# interpolated linearly into a 256-entry lookup table.
_ANCHORS = np.array([0.0, 0.125, 0.375, 0.625, 0.875, 1.0])
_COLOURS = np.array([[0, 0, 0.5], [0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0], [0.5, 0, 0]])
_LEVELS = np.linspace(0.0, 1.0, 256)
COLOUR_MAP = np.round(255 * np.stack([np.interp(_LEVELS, _ANCHORS, _COLOURS[:, c]) for c in range(3)], axis=1)).astype(np.uint8)  # (256, 3)


def colourise(heat: np.ndarray) -> np.ndarray:
    """(H, W) map → (H, W, 3) uint8 colours, scaled to the map's own range (a flat map is all low)."""
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float64))
    low, high = (heat.min(), heat.max()) if heat.size else (0.0, 0.0)
    scaled = (heat - low) / (high - low) if high > low else np.zeros_like(heat)
    return COLOUR_MAP[np.round(scaled * 255).astype(np.intp)]


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """(H, W, 3) uint8 image with the colourised (H, W) map blended over it."""
    if image.shape[:2] != heat.shape:
        raise ValueError(f"image {image.shape[:2]} and heat map {heat.shape} differ in size")
    blended = (1.0 - alpha) * image.astype(np.float64) + alpha * colourise(heat)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _printable(text: str, font) -> str:
    """Pillow's bitmap font (the default without FreeType) draws Latin-1 only."""
    return text if isinstance(font, ImageFont.FreeTypeFont) else text.encode("latin-1", "replace").decode("latin-1")


def _pieces(word: str, usable: int, font) -> list[str]:
    """`word` cut into the longest prefixes that fit `usable` pixels (at least one character each)."""
    pieces = []
    while len(word) > 1 and font.getlength(word) > usable:
        cut = next((n for n in range(len(word) - 1, 1, -1) if font.getlength(word[:n]) <= usable), 1)
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word]


def title_lines(title: str, width: int, font=None) -> list[str]:
    """The title wrapped at words to fit `width` pixels, a word too long for a line cut into
    pieces, so a long phrase over a small image (64 pixels) is never clipped."""
    font = font or _font()
    usable = max(width - 2 * PADDING, 1)
    lines: list[str] = []
    joinable = False  # whether the last line may take the next word (not after a cut word)
    for word in _printable(title, font).split():
        if joinable and font.getlength(f"{lines[-1]} {word}") <= usable:
            lines[-1] = f"{lines[-1]} {word}"
            continue
        pieces = _pieces(word, usable, font)
        lines.extend(pieces)
        joinable = len(pieces) == 1
    return lines or [""]


def _line_height(font) -> int:
    top, bottom = font.getbbox("Ag|")[1::2]
    return int(bottom - min(top, 0)) + 1


def title_height(title: str, width: int) -> int:
    """Height of the title strip above an image `width` pixels wide."""
    font = _font()
    return len(title_lines(title, width, font)) * _line_height(font) + 2 * PADDING


def heat_map_image(image: np.ndarray, heat: np.ndarray, title: str, alpha: float = ALPHA) -> Image.Image:
    """RGB picture: a white strip with `title` (black, centred) above `image` (H, W, 3) uint8 with
    `heat` (H, W) overlaid; W wide and H + title_height(title, W) tall."""
    height, width = image.shape[:2]
    font = _font()
    lines = title_lines(title, width, font)
    line_height = _line_height(font)
    strip = len(lines) * line_height + 2 * PADDING
    picture = Image.new("RGB", (width, height + strip), "white")
    picture.paste(Image.fromarray(overlay(image, heat, alpha), "RGB"), (0, strip))
    draw = ImageDraw.Draw(picture)
    for row, line in enumerate(lines):
        draw.text(((width - font.getlength(line)) / 2, PADDING + row * line_height), line, fill="black", font=font)
    return picture
