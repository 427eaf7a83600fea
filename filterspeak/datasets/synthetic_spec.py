"""Specification of the "planted birds" synthetic dataset: palettes, parts, classes, sampling.

Pure data plus sampling; no drawing here (see ``synthetic_render``) and no text (see
``synthetic_captions``).

Ground truth vocabulary
-----------------------
Every attribute is a phrase ``"<modifier> <noun>"`` with a singular canonical noun from
:data:`PARTS` (crown, beak, breast, wing, tail) and a canonical modifier: a colour word from
:data:`COLOURS` or a pattern word (``striped`` / ``spotted``). ``solid`` is the absence of a
pattern and is never emitted. A patterned part has a primary colour (the ground) and a
secondary colour (the stripes or spots), so a striped black-and-white wing contributes
``black wing``, ``white wing`` and ``striped wing``.

Classes
-------
Each class is defined by 2-3 of these phrases (:data:`CLASS_CATALOGUE`); every other attribute
of an image is drawn at random, except that an image never carries the full definition of
another class in the dataset (so the label is always recoverable from the picture).
The catalogue is ordered so that every prefix of length >= :data:`MIN_CLASSES` satisfies the
design rules: each defining phrase appears in at least two classes, no definition equals or
contains another, and the defining phrases span all five parts, colours and patterns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from filterspeak.errors import OptionError

if TYPE_CHECKING:  # pragma: no cover
    from filterspeak.datasets.synthetic import SyntheticConfig

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

#: Canonical colour words, in a fixed order.
COLOURS: tuple[str, ...] = ("red", "blue", "yellow", "black", "white", "brown", "green", "orange", "grey")

#: Reference RGB of each colour word (renderers add a little per-image jitter).
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (205, 30, 35),
    "blue": (35, 85, 205),
    "yellow": (245, 215, 45),
    "black": (25, 25, 28),
    "white": (242, 242, 236),
    "brown": (115, 70, 35),
    "green": (45, 150, 60),
    "orange": (245, 130, 25),
    "grey": (128, 128, 128),
}

#: The five attribute-bearing parts (canonical singular nouns).
PARTS: tuple[str, ...] = ("crown", "beak", "breast", "wing", "tail")

#: Parts that may carry a pattern; crown and beak are colour only.
PATTERNED_PARTS: tuple[str, ...] = ("breast", "wing", "tail")

#: Pattern words; "solid" is the default and never an attribute.
PATTERNS: tuple[str, ...] = ("solid", "striped", "spotted")
PATTERN_WORDS: tuple[str, ...] = ("striped", "spotted")

#: Colours each part may take.
PART_COLOURS: dict[str, tuple[str, ...]] = {
    "crown": COLOURS,
    "beak": ("black", "orange", "yellow", "grey"),
    "breast": COLOURS,
    "wing": COLOURS,
    "tail": COLOURS,
}

#: Probability of each pattern for a patterned part whose pattern is not fixed by its class.
PATTERN_PROBABILITIES: dict[str, float] = {"solid": 0.5, "striped": 0.25, "spotted": 0.25}

#: Neutral plumage tones for the rest of the head and body. They are deliberately not colour
#: words of the vocabulary (head and body colours are never attributes) and are far from every
#: palette colour so that a brown or grey wing still stands out from the body.
BODY_TONES: dict[str, tuple[int, int, int]] = {"tan": (206, 180, 138), "slate": (170, 185, 210), "rose": (214, 168, 160)}

#: Minimum RGB distance between the two colours of a patterned part, so stripes and spots
#: are visible at 64 px.
MIN_PATTERN_CONTRAST = 110.0


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(np.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b))))


#: For each colour, the colours it may be paired with as the secondary of a pattern.
CONTRASTING: dict[str, tuple[str, ...]] = {
    c: tuple(d for d in COLOURS if d != c and _distance(PALETTE[c], PALETTE[d]) >= MIN_PATTERN_CONTRAST) for c in COLOURS
}


def split_phrase(phrase: str) -> tuple[str, str]:
    """``"red crown"`` -> ``("red", "crown")``; raises ValueError for a non-canonical phrase."""
    parts = phrase.split()
    if len(parts) != 2 or parts[1] not in PARTS or parts[0] not in COLOURS + PATTERN_WORDS:
        raise ValueError(f"not a canonical attribute phrase: {phrase!r}")
    return parts[0], parts[1]


def phrase_kind(phrase: str) -> str:
    """``'colour'`` or ``'pattern'``."""
    modifier, _ = split_phrase(phrase)
    return "pattern" if modifier in PATTERN_WORDS else "colour"


# --------------------------------------------------------------------------------------------
# Classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSpec:
    """One species: its id, readable name and defining phrases."""

    class_id: int
    name: str
    definition: tuple[str, ...]
    twin_of: int | None = None  # a planted confusable species: the class it differs from in one attribute

    def parts(self) -> dict[str, list[str]]:
        """Defining modifiers grouped by part."""
        out: dict[str, list[str]] = {}
        for phrase in self.definition:
            modifier, part = split_phrase(phrase)
            out.setdefault(part, []).append(modifier)
        return out


# The first 12 entries introduce every defining phrase exactly twice (13 phrases: 3 crowns,
# 2 beaks, 3 breasts, 3 wings, 2 tails; colours and both patterns). Later entries only
# recombine those phrases, so every prefix keeps "each phrase in >= 2 classes".
_CATALOGUE_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Crimson Tanager", ("red crown", "striped wing")),
    ("Scarlet Grosbeak", ("red crown", "yellow beak", "white breast")),
    ("Azure Jay", ("blue crown", "blue wing")),
    ("Cobalt Bunting", ("blue crown", "spotted breast")),
    ("Ebony Shrike", ("black crown", "striped tail")),
    ("Sooty Flycatcher", ("black crown", "orange beak", "brown wing")),
    ("Golden Warbler", ("yellow breast", "striped wing")),
    ("Lemon Oriole", ("yellow breast", "black tail")),
    ("Snowy Plover", ("white breast", "striped tail")),
    ("Speckled Thrush", ("spotted breast", "brown wing")),
    ("Sapphire Finch", ("orange beak", "blue wing")),
    ("Saffron Blackbird", ("yellow beak", "black tail")),
    ("Ruby Kinglet", ("red crown", "spotted breast")),
    ("Indigo Wagtail", ("blue crown", "striped tail")),
    ("Pied Chickadee", ("black crown", "white breast")),
    ("Meadow Lark", ("yellow breast", "brown wing", "orange beak")),
    ("Bluebird Wren", ("blue wing", "black tail")),
    ("Barred Sparrow", ("striped wing", "white breast")),
    ("Spotted Canary", ("yellow beak", "spotted breast")),
    ("Tiger Towhee", ("orange beak", "striped tail")),
    ("Cardinal Nuthatch", ("red crown", "brown wing")),
    ("Raven Swallow", ("black crown", "striped wing")),
    ("Royal Vireo", ("blue crown", "yellow breast")),
    ("Magpie Robin", ("white breast", "black tail", "orange beak")),
)

#: Every species the dataset knows, in the order their ids are assigned.
CLASS_CATALOGUE: tuple[ClassSpec, ...] = tuple(
    ClassSpec(class_id=i, name=name, definition=definition) for i, (name, definition) in enumerate(_CATALOGUE_ROWS)
)

MIN_CLASSES = 12
MAX_CLASSES = len(CLASS_CATALOGUE)


def class_specs(num_classes: int) -> tuple[ClassSpec, ...]:
    """The first ``num_classes`` species of the catalogue."""
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool):
        raise OptionError(f"num_classes must be an integer, got {num_classes!r}")
    if num_classes < MIN_CLASSES:
        raise OptionError(
            f"num_classes must be at least {MIN_CLASSES} (the planted-birds design needs that "
            f"many species for every defining attribute to be shared), got {num_classes}"
        )
    if num_classes > MAX_CLASSES:
        raise OptionError(f"num_classes must be at most {MAX_CLASSES}, got {num_classes}")
    return CLASS_CATALOGUE[:num_classes]


# Confusable twins (`--confusable-pairs N`): species that copy one of the first MIN_CLASSES
# species (so the base is in every dataset) but for one defining attribute of one part, the
# planted difference a failure analysis should name. Ordered by how often the default training
# confused them in a build with all ten (docs/evaluation.md): a beak's colour (a few pixels)
# most, then patterns, then colours. Each row: base, its phrase, the twin's phrase, the twin's name.
_TWIN_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("Sapphire Finch", "orange beak", "yellow beak", "Cerulean Finch"),
    ("Sooty Flycatcher", "orange beak", "yellow beak", "Dusky Flycatcher"),
    ("Cobalt Bunting", "spotted breast", "striped breast", "Lapis Bunting"),
    ("Ebony Shrike", "striped tail", "spotted tail", "Sable Shrike"),
    ("Snowy Plover", "white breast", "grey breast", "Ashen Plover"),
    ("Speckled Thrush", "brown wing", "black wing", "Dark Thrush"),
    ("Golden Warbler", "yellow breast", "orange breast", "Amber Warbler"),
    ("Azure Jay", "blue wing", "green wing", "Teal Jay"),
    ("Crimson Tanager", "red crown", "orange crown", "Flame Tanager"),
    ("Lemon Oriole", "black tail", "brown tail", "Umber Oriole"),
)
MAX_CONFUSABLE_PAIRS = len(_TWIN_ROWS)


@dataclass(frozen=True)
class PlantedDifference:
    """What tells a twin from its base: one part, the base's phrase there and the twin's."""

    base_class_id: int
    twin_class_id: int
    part: str
    base_phrase: str
    twin_phrase: str


def _twins(num_classes: int, count: int) -> tuple[tuple[ClassSpec, PlantedDifference], ...]:
    by_name = {c.name: c for c in CLASS_CATALOGUE[:MIN_CLASSES]}
    out = []
    for k, (base_name, old, new, twin_name) in enumerate(_TWIN_ROWS[:count]):
        base = by_name[base_name]
        twin = ClassSpec(num_classes + k, twin_name, tuple(new if p == old else p for p in base.definition), twin_of=base.class_id)
        out.append((twin, PlantedDifference(base.class_id, twin.class_id, split_phrase(old)[1], old, new)))
    return tuple(out)


def species(num_classes: int, confusable_pairs: int = 0) -> tuple[ClassSpec, ...]:
    """The dataset's species: the first `num_classes` of the catalogue, then `confusable_pairs` twins."""
    if not 0 <= int(confusable_pairs) <= MAX_CONFUSABLE_PAIRS:
        raise OptionError(f"confusable_pairs must be in [0, {MAX_CONFUSABLE_PAIRS}], got {confusable_pairs}")
    return class_specs(num_classes) + tuple(twin for twin, _ in _twins(num_classes, int(confusable_pairs)))


def planted_differences(num_classes: int, confusable_pairs: int) -> tuple[PlantedDifference, ...]:
    return tuple(difference for _, difference in _twins(num_classes, int(confusable_pairs)))


# --------------------------------------------------------------------------------------------
# Per-image specification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartSpec:
    """Appearance of one part: primary colour, pattern, secondary (stripe/spot) colour."""

    colour: str
    pattern: str = "solid"
    secondary: str | None = None

    def __post_init__(self) -> None:
        if self.colour not in PALETTE:
            raise ValueError(f"unknown colour {self.colour!r}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {self.pattern!r}")
        if (self.pattern == "solid") != (self.secondary is None):
            raise ValueError("a patterned part needs a secondary colour and a solid one none")
        if self.secondary is not None and (self.secondary not in PALETTE or self.secondary == self.colour):
            raise ValueError(f"bad secondary colour {self.secondary!r}")

    @property
    def colours(self) -> tuple[str, ...]:
        return (self.colour,) if self.secondary is None else (self.colour, self.secondary)

    def modifiers(self) -> Iterator[tuple[str, str]]:
        """(modifier, kind) pairs truly present on this part."""
        for c in self.colours:
            yield c, "colour"
        if self.pattern != "solid":
            yield self.pattern, "pattern"


@dataclass(frozen=True)
class BirdSpec:
    """Everything that identifies one bird: class, part appearance and pose.

    Pose fields are in normalised image units: the bird is drawn at centre
    ``(0.5 + dx, 0.5 + dy)`` of the image, scaled by ``scale``, rotated by ``tilt`` degrees and
    mirrored when ``facing == 'left'``. ``pattern_phase`` shifts stripes/spots (0..1).
    """

    class_id: int
    crown: PartSpec
    beak: PartSpec
    breast: PartSpec
    wing: PartSpec
    tail: PartSpec
    body_tone: str = "tan"
    facing: str = "right"
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    tilt: float = 0.0
    pattern_phase: float = 0.0

    def __post_init__(self) -> None:
        if self.facing not in ("left", "right"):
            raise ValueError(f"facing must be 'left' or 'right', got {self.facing!r}")
        if self.body_tone not in BODY_TONES:
            raise ValueError(f"unknown body tone {self.body_tone!r}")
        for part in ("crown", "beak"):
            if self.part(part).pattern != "solid":
                raise ValueError(f"{part} cannot be patterned")
        if self.beak.colour not in PART_COLOURS["beak"]:
            raise ValueError(f"beak colour must be one of {PART_COLOURS['beak']}")

    def part(self, name: str) -> PartSpec:
        if name not in PARTS:
            raise KeyError(name)
        return getattr(self, name)

    def parts(self) -> dict[str, PartSpec]:
        return {p: self.part(p) for p in PARTS}

    def truth(self) -> list[tuple[str, str, str]]:
        """Every attribute truly present, as (part, phrase, kind), in a fixed order.

        A patterned part also has its markings: a wing with white stripes truly shows a
        'white stripe' (kind 'marking'), the phrase a caption like "black wings with white
        stripes" yields.
        """
        out = []
        for p in PARTS:
            spec = self.part(p)
            for modifier, kind in spec.modifiers():
                out.append((p, f"{modifier} {p}", kind))
            if spec.secondary is not None:
                marking = {"striped": "stripe", "spotted": "spot"}[spec.pattern]
                out.append((p, f"{spec.secondary} {marking}", "marking"))
        return out

    def phrases(self) -> frozenset[str]:
        return frozenset(phrase for _, phrase, _ in self.truth())


def satisfies(phrases: frozenset[str] | set[str], cls: ClassSpec) -> bool:
    """Whether a set of present phrases contains the whole definition of ``cls``."""
    return all(p in phrases for p in cls.definition)


def _sample_part(part: str, fixed: list[str], rng: np.random.Generator) -> PartSpec:
    """Sample one part given the modifiers its class fixes (a colour and/or a pattern)."""
    fixed_colours = [m for m in fixed if m in COLOURS]
    fixed_patterns = [m for m in fixed if m in PATTERN_WORDS]
    if len(fixed_colours) > 1 or len(fixed_patterns) > 1:
        raise ValueError(f"class fixes more than one colour or pattern for the {part}")
    if part in PATTERNED_PARTS:
        if fixed_patterns:
            pattern = fixed_patterns[0]
        else:
            names = list(PATTERN_PROBABILITIES)
            probs = np.array([PATTERN_PROBABILITIES[n] for n in names])
            pattern = names[int(rng.choice(len(names), p=probs / probs.sum()))]
    else:
        if fixed_patterns:
            raise ValueError(f"the {part} cannot carry a pattern")
        pattern = "solid"
    allowed = PART_COLOURS[part]
    colour = fixed_colours[0] if fixed_colours else allowed[int(rng.integers(len(allowed)))]
    secondary = None
    if pattern != "solid":
        options = CONTRASTING[colour]
        secondary = options[int(rng.integers(len(options)))]
    return PartSpec(colour=colour, pattern=pattern, secondary=secondary)


def sample_bird(class_id: int, config: SyntheticConfig, rng: np.random.Generator, max_tries: int = 1000) -> BirdSpec:
    """Sample the spec of one bird of ``class_id``.

    The class's defining phrases are forced (a defining colour is the part's primary colour);
    every other attribute and the pose are random, with rejection of any draw that also carries
    the full definition of another of the dataset's species (twins included).
    """
    classes = species(int(config.num_classes), int(config.confusable_pairs))
    if not 0 <= int(class_id) < len(classes):
        raise ValueError(f"class_id must be in [0, {len(classes)}), got {class_id}")
    cls = classes[int(class_id)]
    fixed = cls.parts()
    others = [c for c in classes if c.class_id != cls.class_id]
    for _ in range(max_tries):
        parts = {p: _sample_part(p, fixed.get(p, []), rng) for p in PARTS}
        present = frozenset(f"{m} {p}" for p, spec in parts.items() for m, _ in spec.modifiers())
        if not any(satisfies(present, o) for o in others):
            break
    else:  # pragma: no cover - the catalogue is designed so this cannot happen
        raise RuntimeError(f"could not sample an unambiguous bird for class {cls.name}")

    scale = float(rng.uniform(0.8, 1.1))
    # Keep the whole bird inside the frame: canonical half-extent ~0.41 (x) and ~0.27 (y).
    max_dx = max(0.0, 0.5 - 0.42 * scale - 0.02)
    max_dy = max(0.0, 0.5 - 0.29 * scale - 0.02)
    body_tones = list(BODY_TONES)
    return BirdSpec(
        class_id=int(class_id),
        **parts,
        body_tone=body_tones[int(rng.integers(len(body_tones)))],
        facing="left" if rng.random() < 0.5 else "right",
        scale=scale,
        dx=float(rng.uniform(-max_dx, max_dx)),
        dy=float(rng.uniform(-max_dy, max_dy)),
        tilt=float(rng.uniform(-10.0, 10.0)),
        pattern_phase=float(rng.random()),
    )
