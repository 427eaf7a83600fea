"""Caption text for a :class:`BirdSpec`: varied, grammatical, occasionally wrong.

Each caption mentions a random subset of 2-4 parts in random order and phrases each mention in
one of several ways:

* attributive noun phrases: "a red crown", "black and white striped wings",
  "striped black wings", "a yellow breast with black spots", "a bright orange bill";
* relative clauses: "wings that are brown", "a breast that is spotted";
* predicate clauses: "its breast is yellow", "the crown is bright red",
  "the wings are black and striped";

with synonyms (bill = beak, chest = breast), singular or plural "wing(s)", the intensifiers
"bright" / "vivid" / "deep" (never "dark"/"light", which name other shades), omissions (a patterned part may be named by its pattern, its main colour,
or both colours), coordination across parts ("a red crown and a yellow beak"), and distractor
sentences without part attributes ("The photo is blurry."). A caption has one or two
sentences, each ending with a period.

Colours are only ever the canonical words of :data:`COLOURS` (plus "gray" as a spelling
variant of grey), so a generic adjective + noun parser can recover them. With probability
``noise`` a caption states a wrong colour for one of the parts it mentions (a colour that part
does not have anywhere); otherwise every colour + part pair it states is true.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterspeak.datasets.synthetic_spec import PART_COLOURS, BirdSpec

_NOUNS: dict[str, tuple[tuple[str, float], ...]] = {
    # (surface noun, probability)
    "crown": (("crown", 1.0),),
    "beak": (("beak", 0.6), ("bill", 0.4)),
    "breast": (("breast", 0.65), ("chest", 0.35)),
    "wing": (("wings", 0.75), ("wing", 0.25)),
    "tail": (("tail", 1.0),),
}
_PLURAL = {"wings"}
_BRIGHT = {"red", "yellow", "orange", "blue", "green"}
_DARK = {"red", "blue", "green", "brown", "grey"}
_PATTERN_NOUN = {"striped": "stripes", "spotted": "spots"}

_OPENINGS = (
    "this bird has {}",
    "the bird has {}",
    "a small bird with {}",
    "this is a bird with {}",
    "this small bird has {}",
    "a bird with {}",
    "this colorful bird has {}",
    "the bird in the picture has {}",
)

_DISTRACTORS = (
    "this bird is perched on a branch",
    "the photo is blurry",
    "a small bird",
    "the bird is sitting on a tree",
    "the background is out of focus",
    "this is a medium sized bird",
    "it looks like a songbird",
    "the picture was taken outdoors",
    "this bird is standing still",
    "the bird is facing {facing}",
)


@dataclass
class _Mention:
    part: str
    noun: str
    colours: list[str]  # colours stated, in order (primary first)
    pattern: str | None  # pattern word stated
    with_secondary: str | None = None  # "... with white stripes" form
    intensifier: str | None = None

    @property
    def plural(self) -> bool:
        return self.noun in _PLURAL


def _choose(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _weighted(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    r = rng.random()
    acc = 0.0
    for value, p in options:
        acc += p
        if r < acc:
            return value
    return options[-1][0]


def _colour_word(colour: str, rng: np.random.Generator) -> str:
    return "gray" if colour == "grey" and rng.random() < 0.15 else colour


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _make_mention(spec: BirdSpec, part: str, wrong: bool, rng: np.random.Generator) -> _Mention:
    p = spec.part(part)
    noun = _weighted(rng, _NOUNS[part])
    primary = p.colour
    if wrong:
        options = [c for c in PART_COLOURS[part] if c not in p.colours]
        primary = _choose(rng, options)
    if p.pattern == "solid":
        m = _Mention(part, noun, [primary], None)
    else:
        variants = ["both+pattern", "primary+pattern", "both", "primary", "with"]
        if not wrong:
            variants.append("pattern")
        v = _choose(rng, variants)
        if v == "both+pattern":
            m = _Mention(part, noun, [primary, p.secondary], p.pattern)
        elif v == "primary+pattern":
            m = _Mention(part, noun, [primary], p.pattern)
        elif v == "both":
            m = _Mention(part, noun, [primary, p.secondary], None)
        elif v == "primary":
            m = _Mention(part, noun, [primary], None)
        elif v == "with":
            m = _Mention(part, noun, [primary], p.pattern, with_secondary=p.secondary)
        else:
            m = _Mention(part, noun, [], p.pattern)
    if len(m.colours) == 1 and m.with_secondary is None and (m.pattern is None) and rng.random() < 0.2:
        c = m.colours[0]
        # only true intensifiers: "dark grey" / "light brown" name other shades
        choices = [w for w, ok in (("bright", c in _BRIGHT), ("vivid", c in _BRIGHT), ("deep", c in _DARK)) if ok]
        if choices:
            m.intensifier = _choose(rng, choices)
    return m


def _colour_phrase(m: _Mention, rng: np.random.Generator) -> str:
    words = [_colour_word(c, rng) for c in m.colours]
    text = " and ".join(words)
    if m.intensifier:
        text = f"{m.intensifier} {text}"
    return text


def _np(m: _Mention, rng: np.random.Generator) -> str:
    """Attributive noun phrase, with article when singular."""
    cols = _colour_phrase(m, rng)
    if m.with_secondary is not None:
        head = f"{cols} {m.noun} with {_colour_word(m.with_secondary, rng)} {_PATTERN_NOUN[m.pattern]}"
    elif m.pattern and cols:
        head = f"{cols} {m.pattern} {m.noun}" if rng.random() < 0.5 else f"{m.pattern} {cols} {m.noun}"
    elif m.pattern:
        head = f"{m.pattern} {m.noun}"
    else:
        head = f"{cols} {m.noun}"
    return head if m.plural else _article(head)


def _predicate(m: _Mention, rng: np.random.Generator) -> str:
    """What follows "is"/"are"."""
    cols = _colour_phrase(m, rng)
    if m.with_secondary is not None:
        return f"{cols} with {_colour_word(m.with_secondary, rng)} {_PATTERN_NOUN[m.pattern]}"
    if m.pattern and cols:
        if len(m.colours) > 1:
            return f"{m.pattern} {cols}"
        return f"{cols} and {m.pattern}"
    if m.pattern:
        return m.pattern
    return cols


def _relative(m: _Mention, rng: np.random.Generator) -> str:
    verb = "are" if m.plural else "is"
    text = f"{m.noun} that {verb} {_predicate(m, rng)}"
    return text if m.plural else "a " + text


def _clause(m: _Mention, rng: np.random.Generator) -> str:
    verb = "are" if m.plural else "is"
    det = "its" if rng.random() < 0.5 else "the"
    return f"{det} {m.noun} {verb} {_predicate(m, rng)}"


def _join_list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _join_clauses(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    sep = ", and " if any(" and " in c for c in items) else " and "
    return ", ".join(items[:-1]) + sep + items[-1]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def make_caption(spec: BirdSpec, noise: float, rng: np.random.Generator) -> str:
    """One caption of ``spec``; with probability ``noise`` one mentioned part gets a wrong colour."""
    k = int(rng.integers(2, 5))
    parts = [str(p) for p in rng.permutation(np.array(list(spec.parts())))[:k]]
    wrong_index = int(rng.integers(k)) if rng.random() < noise else -1
    mentions = [_make_mention(spec, p, i == wrong_index, rng) for i, p in enumerate(parts)]

    nps: list[str] = []
    relatives: list[str] = []
    clauses: list[str] = []
    for m in mentions:
        r = rng.random()
        if r < 0.6:
            nps.append(_np(m, rng))
        elif r < 0.75:
            relatives.append(_relative(m, rng))
        else:
            clauses.append(_clause(m, rng))
    # Relative clauses end in a colour word; putting them last keeps "a crown that is red and
    # green wings" (which reads as "red and green wings") from ever being written.
    nps += relatives

    sentences: list[str] = []
    if nps and clauses:
        template = _choose(rng, _OPENINGS)
        opening = template.format(_join_list(nps))
        if len(clauses) == 1 and rng.random() < 0.5:
            # "A bird with ..." is a fragment: only a full clause may take ", and <clause>".
            if rng.random() < 0.5 and not template.startswith("a "):
                sentences.append(_sentence(f"{opening}, and {clauses[0]}"))
            else:
                sentences.append(_sentence(f"{clauses[0]}, and it has {_join_list(nps)}"))
        else:
            sentences.append(_sentence(opening))
            sentences.append(_sentence(_join_clauses(clauses)))
    elif nps:
        sentences.append(_sentence(_choose(rng, _OPENINGS).format(_join_list(nps))))
    else:
        sentences.append(_sentence(_join_clauses(clauses)))

    if len(sentences) == 1 and rng.random() < 0.35:
        options = [d for d in _DISTRACTORS if d not in sentences[0].lower()]
        distractor = _sentence(_choose(rng, options).format(facing=spec.facing))
        if rng.random() < 0.5:
            sentences.insert(0, distractor)
        else:
            sentences.append(distractor)
    return " ".join(sentences)


def make_captions(spec: BirdSpec, n: int, noise: float, rng: np.random.Generator) -> list[str]:
    """``n`` captions of ``spec`` (distinct where a few redraws allow)."""
    out: list[str] = []
    for _ in range(int(n)):
        text = make_caption(spec, noise, rng)
        for _retry in range(5):
            if text not in out:
                break
            text = make_caption(spec, noise, rng)
        out.append(text)
    return out
