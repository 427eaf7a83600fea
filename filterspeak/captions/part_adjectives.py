"""'<modifier>-<part>ed' adjectives ('long-tailed', 'dark haired', 'yellow-billed') describe the
part, not the noun they precede: rewrite them into the modifier and the part noun before
re-tagging (docs/captions.md, "Re-tag")."""

from __future__ import annotations

from filterspeak.captions import lexicon as lx
from filterspeak.captions.words import ED_PART_NOUNS, WordTests

__all__ = ["COLORED", "SEP", "expand_part_adjectives", "part_of_ed"]

# Separator token inserted after an expanded '<modifier>-<part>ed' adjective.
SEP = ("|", "SEP")
COLORED = frozenset({"colored", "coloured"})

Tagged = list[tuple[str, str]]


def part_of_ed(word: str) -> str | None:
    """The body-part noun of a '-<part>ed' adjective ('tailed' → tail, 'long-billed' → bill,
    'bellied' → belly, 'capped' → cap, 'faced' → face), or None. Lexicon modifiers ('striped',
    'spotted', 'crested') are not split."""
    last = word.rpartition("-")[2]
    if len(last) < 4 or not last.endswith("ed") or last in lx.MODIFIER_CANON or word in lx.MODIFIER_CANON:
        return None
    stem = last[:-2]
    candidates = [stem, stem + "e"]
    if stem.endswith("i"):
        candidates.append(stem[:-1] + "y")
    if len(stem) > 2 and stem[-1] == stem[-2]:
        candidates.append(stem[:-1])
    for noun in candidates:
        if noun in lx.PART_WORDS or noun in ED_PART_NOUNS:
            return noun
    return None


def expand_part_adjectives(tagged: Tagged, words: WordTests) -> Tagged:
    """Move the modifier and the part noun of each '-<part>ed' adjective in front of the noun
    phrase's other modifiers, closed with :data:`SEP`: 'a small brown long-haired dog' reads
    'a long hair | small brown dog' (long hair, small dog, brown dog). Also joins 'multi
    colored' into 'multicolored'."""
    if not any(w.endswith("ed") for w, _ in tagged):
        return tagged
    out: Tagged = []
    for w, t in tagged:
        if w in COLORED and out and out[-1][0] == "multi":
            out[-1] = ("multicolored", "JJ")
            continue
        noun = part_of_ed(w)
        unit = _part_modifiers(w, t, out, words) if noun is not None else None
        if unit is None:
            out.append((w, t))
            continue
        k = _modifiers_start(out, words)  # before the modifiers the NP already has ('small brown')
        out[k:k] = [*unit, (noun, "NN"), SEP]
    return out


def _part_modifiers(word: str, tag: str, out: Tagged, words: WordTests) -> Tagged | None:
    """The modifier tokens that describe the part of ``word`` ('long' of 'long-tailed'), or None
    when it has none. For a separate modifier ('dark haired', 'light brown haired') the tokens
    are taken off the end of ``out``."""
    if "-" in word:
        mods = word.split("-")[:-1]
        if mods and all(words.modifier_word(m) for m in mods):
            return [(m, "JJ") for m in mods]
        return None
    if not (out and tag in ("VBN", "VBD", "JJ") and words.modifier_word(*out[-1])):
        return None
    k = len(out) - 1
    if lx.canonical_colour(out[k][0]) is not None:  # 'light brown', 'blue grey'
        while k > 0 and (lx.canonical_colour(out[k - 1][0]) is not None or out[k - 1][0] in lx.SHADES):
            k -= 1
    unit = [(x, "JJ") for x, _ in out[k:]]
    del out[k:]
    return unit


def _modifiers_start(out: Tagged, words: WordTests) -> int:
    """Index of the first token of the modifier list that ends ``out``."""
    k = len(out)
    while k > 0 and (
        out[k - 1][1] in ("CC", ",", "RB")
        or out[k - 1][0] in lx.INTENSIFIERS
        or out[k - 1][0] in lx.COLOUR_FILLERS
        or words.modifier_word(*out[k - 1])
    ):
        k -= 1
    return k
