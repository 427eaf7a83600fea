"""Vectorised numpy rendering of one :class:`BirdSpec` to an RGB image and a part-label mask.

The bird is described in a canonical frame (facing right, y pointing down, about 0.8 units
wide) by ellipses, a circle cap, a triangle and convex quads; every pixel is classified with
coordinate-grid inequalities, so one image costs a few dozen array operations. Colours are
computed on a 2x supersampled grid and block-averaged (anti-aliasing); the mask is computed at
the pixel centres, so each pixel's label is exactly the part under its centre.
"""

from __future__ import annotations

import math

import numpy as np

from filterspeak.datasets.synthetic_spec import BODY_TONES, PALETTE, BirdSpec, PartSpec

#: Per-pixel part labels (mask values). ``head`` is the head minus crown and beak (the eye
#: counts as head); ``body`` is the body minus breast and wing (the legs count as body).
PART_LABELS: dict[str, int] = {"background": 0, "crown": 1, "beak": 2, "breast": 3, "wing": 4, "tail": 5, "head": 6, "body": 7}

SUPERSAMPLE = 2
COLOUR_JITTER = 12  # +- per channel, per part, per image
PIXEL_NOISE_STD = 2.5
MIN_BACKGROUND_DISTANCE = 45.0  # RGB distance from every palette colour and body tone

# ---- canonical geometry (facing right, y down; units ~ image widths at scale 1) ------------
_ORIGIN = (-0.03, 0.012)  # canonical point placed at the spec's centre (bird bbox centre)
_BODY = dict(cx=0.0, cy=0.04, a=0.21, b=0.13, angle=-15.0)
_BREAST = dict(cx=0.11, cy=0.10, a=0.15, b=0.105, angle=-15.0)
_WING = dict(cx=-0.07, cy=-0.005, a=0.165, b=0.072, angle=-15.0)
_HEAD = dict(cx=0.17, cy=-0.12, r=0.1)
_EYE = dict(cx=0.215, cy=-0.125, r=0.018)
_CROWN_OFFSET = -0.025  # crown = head pixels above this line (relative to head centre) ...
_CROWN_SLOPE = -0.3  # ... tilted so the cap is larger towards the back of the head
_BEAK = ((0.245, -0.147), (0.36, -0.105), (0.245, -0.09))  # base top, tip, base bottom
_TAIL_BASE = (-0.16, 0.08)
_TAIL_DIR = (-math.cos(math.radians(15.0)), math.sin(math.radians(15.0)))
_TAIL = dict(length=0.25, base_half=0.035, tip_half=0.065)
_LEGS = ((0.0, 0.05), 0.14, 0.24, 0.008)  # x positions, top y, bottom y, half width
_LEG_RGB = (70, 60, 50)
_EYE_RGB = (15, 15, 18)

_STRIPE_PERIOD = 0.075
_STRIPE_DUTY = 0.45
_SPOT_SPACING = 0.075
_SPOT_RADIUS = 0.024


def _rotate(x: np.ndarray, y: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along (s) and across (t) an axis at ``angle_deg`` (y down)."""
    c = np.float32(math.cos(math.radians(angle_deg)))
    s = np.float32(math.sin(math.radians(angle_deg)))
    return c * x + s * y, -s * x + c * y


def _ellipse(X, Y, cx, cy, a, b, angle):
    s, t = _rotate(X - cx, Y - cy, angle)
    return (s / a) ** 2 + (t / b) ** 2 <= 1.0, s, t


def _convex(X, Y, pts) -> np.ndarray:
    """Inside test for a convex polygon given in either winding order."""
    pos = np.ones(X.shape, dtype=bool)
    neg = np.ones(X.shape, dtype=bool)
    n = len(pts)
    for i in range(n):
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % n]
        cross = (x2 - x1) * (Y - y1) - (y2 - y1) * (X - x1)
        pos &= cross >= 0
        neg &= cross <= 0
    return pos | neg


def _tail_quad() -> tuple[tuple[float, float], ...]:
    bx, by = _TAIL_BASE
    ux, uy = _TAIL_DIR
    nx, ny = -uy, ux
    tx, ty = bx + _TAIL["length"] * ux, by + _TAIL["length"] * uy
    hb, ht = _TAIL["base_half"], _TAIL["tip_half"]
    return ((bx + hb * nx, by + hb * ny), (tx + ht * nx, ty + ht * ny), (tx - ht * nx, ty - ht * ny), (bx - hb * nx, by - hb * ny))


_TAIL_QUAD = _tail_quad()


def _pattern_mask(pattern: str, s: np.ndarray, t: np.ndarray, phase: float) -> np.ndarray | None:
    """Where the secondary colour shows, in part-local coordinates (s along, t across)."""
    if pattern == "striped":
        return np.mod(s / _STRIPE_PERIOD + phase, 1.0) < _STRIPE_DUTY
    if pattern == "spotted":
        g = _SPOT_SPACING
        h = g * math.sqrt(3.0) / 2.0
        s = s + phase * g
        row = np.round(t / h)
        off = np.mod(row, 2.0) * (g / 2.0)
        ds = (s - off) - g * np.round((s - off) / g)
        dt = t - row * h
        return ds * ds + dt * dt <= _SPOT_RADIUS**2
    return None


def _canonical(spec: BirdSpec, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map normalised image coordinates to the bird's canonical frame (float32)."""
    c = math.cos(math.radians(spec.tilt)) / spec.scale
    s = math.sin(math.radians(spec.tilt)) / spec.scale
    vx = px - np.float32(0.5 + spec.dx)
    vy = py - np.float32(0.5 + spec.dy)
    sign = -1.0 if spec.facing == "left" else 1.0
    u = np.float32(sign * c) * vx + np.float32(sign * s) * vy + np.float32(_ORIGIN[0])
    w = np.float32(-s) * vx + np.float32(c) * vy + np.float32(_ORIGIN[1])
    return u, w


def _layers(X: np.ndarray, Y: np.ndarray):
    """Yield (label, inside, (s, t) pattern coordinates or None, key) in paint order."""
    yield PART_LABELS["tail"], _convex(X, Y, _TAIL_QUAD), _rotate(X - _TAIL_BASE[0], Y - _TAIL_BASE[1], 165.0), "tail"
    xs, top, bottom, half = _LEGS
    legs = np.zeros(X.shape, dtype=bool)
    for lx in xs:
        legs |= (np.abs(X - lx) <= half) & (top <= Y) & (bottom >= Y)
    yield PART_LABELS["body"], legs, None, "legs"
    body, _, _ = _ellipse(X, Y, **_BODY)
    yield PART_LABELS["body"], body, None, "body"
    breast, _, _ = _ellipse(X, Y, **_BREAST)
    # Breast bars run horizontally in the bird's frame: pattern coordinate = height.
    yield PART_LABELS["breast"], breast & body, (Y - _BREAST["cy"], X - _BREAST["cx"]), "breast"
    wing, ws, wt = _ellipse(X, Y, **_WING)
    yield PART_LABELS["wing"], wing, (ws, wt), "wing"
    dxh, dyh = X - _HEAD["cx"], Y - _HEAD["cy"]
    head = dxh * dxh + dyh * dyh <= _HEAD["r"] ** 2
    yield PART_LABELS["head"], head, None, "head"
    crown = head & (dyh < _CROWN_OFFSET + _CROWN_SLOPE * dxh)
    yield PART_LABELS["crown"], crown, None, "crown"
    ex, ey = X - _EYE["cx"], Y - _EYE["cy"]
    yield PART_LABELS["head"], ex * ex + ey * ey <= _EYE["r"] ** 2, None, "eye"
    yield PART_LABELS["beak"], _convex(X, Y, _BEAK), None, "beak"


def _labels(spec: BirdSpec, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    X, Y = _canonical(spec, px, py)
    label = np.zeros(px.shape, dtype=np.uint8)
    for value, inside, _, _ in _layers(X, Y):
        label[inside] = value
    return label


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    jit = rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3)
    return np.clip(np.asarray(rgb, dtype=np.float32) + jit, 0, 255).astype(np.float32)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV (all in [0, 1]) -> RGB in [0, 255], shape (..., 3)."""
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(np.int64) % 6
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1) * 255.0


_AVOID = np.array(list(PALETTE.values()) + list(BODY_TONES.values()), dtype=np.float64)
_BATCH = 32


def _background_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two gradient end colours of low-to-mid saturation, far from every palette colour and
    body tone anywhere along the gradient (candidates are drawn in batches, first valid wins)."""
    ts = np.linspace(0.0, 1.0, 6)[None, :, None]
    for _ in range(100):
        h = rng.random(_BATCH)
        h2 = np.mod(h + rng.uniform(-0.12, 0.12, _BATCH), 1.0)
        c1 = _hsv_to_rgb(h, rng.uniform(0.08, 0.35, _BATCH), rng.uniform(0.42, 0.85, _BATCH))
        c2 = _hsv_to_rgb(h2, rng.uniform(0.08, 0.35, _BATCH), rng.uniform(0.42, 0.85, _BATCH))
        along = c1[:, None, :] * (1 - ts) + c2[:, None, :] * ts  # (B, 6, 3)
        d = np.sqrt(((along[:, :, None, :] - _AVOID[None, None]) ** 2).sum(-1)).min(axis=(1, 2))
        ok = np.flatnonzero(d >= MIN_BACKGROUND_DISTANCE)
        if ok.size:
            return c1[ok[0]], c2[ok[0]]
    raise RuntimeError("could not draw a background colour")  # pragma: no cover


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 3) float32: smooth two-colour gradient plus gentle low-frequency shading."""
    c1, c2 = _background_colours(rng)
    px, py = _grid(size, 1)
    theta = rng.uniform(0.0, 2.0 * math.pi)
    proj = math.cos(theta) * (px - 0.5) + math.sin(theta) * (py - 0.5)
    t = np.clip(proj / 0.71 + 0.5, 0.0, 1.0)[..., None]
    shade = np.zeros(px.shape, dtype=np.float32)
    for _ in range(2):
        fx, fy = rng.uniform(-2.5, 2.5, 2)
        amp, ph = rng.uniform(2.0, 6.0), rng.uniform(0, 2 * math.pi)
        shade += np.float32(amp) * np.cos(np.float32(2 * math.pi) * (np.float32(fx) * px + np.float32(fy) * py) + np.float32(ph))
    img = c1.astype(np.float32) * (1.0 - t) + c2.astype(np.float32) * t + shade[..., None]
    return img.astype(np.float32)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _axis(size: int, factor: int) -> np.ndarray:
    n = size * factor
    return ((np.arange(n, dtype=np.float32) + np.float32(0.5)) / np.float32(n)).astype(np.float32)


def _grid(size: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [0, 1]: px varies along columns, py along rows (cached)."""
    key = (size, factor)
    if key not in _GRIDS:
        c = _axis(size, factor)
        px, py = np.meshgrid(c, c)
        px.setflags(write=False)
        py.setflags(write=False)
        _GRIDS[key] = (px, py)
    return _GRIDS[key]


# Canonical bounding box of the bird (with a small margin for the outline).
_CANON_BOX = (-0.45, -0.25, 0.39, 0.28)


def _pixel_box(spec: BirdSpec, size: int) -> tuple[int, int, int, int]:
    """Row/column range (r0, r1, c0, c1) of the image that can contain the bird."""
    x0, y0, x1, y1 = _CANON_BOX
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)
    u = corners[:, 0] - _ORIGIN[0]
    w = corners[:, 1] - _ORIGIN[1]
    if spec.facing == "left":
        u = -u
    u, w = u * spec.scale, w * spec.scale
    c, s = math.cos(math.radians(spec.tilt)), math.sin(math.radians(spec.tilt))
    x = c * u - s * w + 0.5 + spec.dx
    y = s * u + c * w + 0.5 + spec.dy
    c0 = max(0, math.floor(x.min() * size) - 1)
    c1 = min(size, math.ceil(x.max() * size) + 1)
    r0 = max(0, math.floor(y.min() * size) - 1)
    r1 = min(size, math.ceil(y.max() * size) + 1)
    return r0, r1, c0, c1


def render_bird(spec: BirdSpec, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``spec`` as a ``size`` x ``size`` picture.

    Returns ``(image, mask)``: ``image`` (size, size, 3) uint8 RGB and ``mask`` (size, size)
    uint8 with :data:`PART_LABELS` values. ``rng`` supplies the background, colour jitter and
    pixel noise, so the same spec rendered with different generators gives different photos of
    the same bird.
    """
    size = int(size)
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    ss = SUPERSAMPLE
    img = _background(size, rng)

    tone = _jitter(BODY_TONES[spec.body_tone], rng)
    part_rgb = {name: _part_colours(part, rng) for name, part in spec.parts().items()}
    fixed = {"legs": np.asarray(_LEG_RGB, dtype=np.float32), "body": tone, "head": tone, "eye": np.asarray(_EYE_RGB, dtype=np.float32)}

    # Only the bird's bounding box is drawn, on a supersampled grid.
    r0, r1, c0, c1 = _pixel_box(spec, size)
    mask = np.zeros((size, size), dtype=np.uint8)
    if r1 > r0 and c1 > c0:
        px2, py2 = _grid(size, ss)
        px = px2[r0 * ss : r1 * ss, c0 * ss : c1 * ss]
        py = py2[r0 * ss : r1 * ss, c0 * ss : c1 * ss]
        X, Y = _canonical(spec, px, py)
        # Paint colour codes (0 = background), then look colours and labels up in one gather.
        colours: list[np.ndarray] = [np.zeros(3, dtype=np.float32)]
        code_labels: list[int] = [PART_LABELS["background"]]
        code = np.zeros(px.shape, dtype=np.uint8)
        for value, inside, coords, key in _layers(X, Y):
            code[inside] = len(colours)
            code_labels.append(value)
            if key in fixed:
                colours.append(fixed[key])
                continue
            primary, secondary = part_rgb[key]
            colours.append(primary)
            if secondary is not None and coords is not None:
                pat = _pattern_mask(spec.part(key).pattern, coords[0], coords[1], spec.pattern_phase)
                code[inside & pat] = len(colours)
                code_labels.append(value)
                colours.append(secondary)
        label = np.asarray(code_labels, dtype=np.uint8)[code]
        table = np.stack(colours).astype(np.float32)
        bg = np.repeat(np.repeat(img[r0:r1, c0:c1], ss, axis=0), ss, axis=1)
        crop = np.where((code == 0)[..., None], bg, table[code])

        # Dark outline on the silhouette and around the wing (one supersampled pixel wide).
        wing = PART_LABELS["wing"]
        outline = np.zeros(label.shape, dtype=bool)
        for axis in (0, 1):
            a = label[:-1, :] if axis == 0 else label[:, :-1]
            b = label[1:, :] if axis == 0 else label[:, 1:]
            edge = (a != b) & ((a == 0) | (b == 0) | (a == wing) | (b == wing))
            if axis == 0:
                outline[:-1, :] |= edge & (a != 0)
                outline[1:, :] |= edge & (b != 0)
            else:
                outline[:, :-1] |= edge & (a != 0)
                outline[:, 1:] |= edge & (b != 0)
        crop *= np.where(outline, np.float32(0.6), np.float32(1.0))[..., None]

        acc = crop[0::ss, 0::ss].copy()
        for i in range(ss):
            for j in range(ss):
                if i or j:
                    acc += crop[i::ss, j::ss]
        img[r0:r1, c0:c1] = acc / np.float32(ss * ss)

        px1, py1 = _grid(size, 1)
        mask[r0:r1, c0:c1] = _labels(spec, px1[r0:r1, c0:c1], py1[r0:r1, c0:c1])

    img += rng.normal(0.0, PIXEL_NOISE_STD, img.shape).astype(np.float32)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return image, mask


def _part_colours(part: PartSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    primary = _jitter(PALETTE[part.colour], rng)
    secondary = _jitter(PALETTE[part.secondary], rng) if part.secondary is not None else None
    return primary, secondary
