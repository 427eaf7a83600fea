"""Re-tag tagger output from the lexicon (docs/captions.md, "Re-tag"): the perceptron tagger is
often wrong on exactly the words that matter ('orange' → NN, 'grey' → VB), so colours, pattern
words, intensifiers, negations and copulas get the lexicon's own tags, colour words are merged
into one token ('blue grey' → blue-grey), and frequent tagger errors are repaired."""

from __future__ import annotations

from filterspeak.captions import lexicon as lx
from filterspeak.captions.grammar import NOUN_TAGS
from filterspeak.captions.nouns import NounReader
from filterspeak.captions.part_adjectives import COLORED, expand_part_adjectives
from filterspeak.captions.words import WordTests

__all__ = ["Retagger"]

Tagged = list[tuple[str, str]]

_RELATIVE = frozenset({"that", "which", "who", "whose"})
_LEXICAL_MODS = frozenset({"COL", "AMB", "PAT", "SHADE", "INT", "FILL"})
# After these tags a body-part word is not re-read as a noun ('flies back', 'to wing').
_NO_NOUN_AFTER = frozenset({"VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD", "TO", "RB", "PASS"})
# Shade words that are adjectives whenever a noun follows ('light' may be a noun: 'light pole').
_SHADE_ADJECTIVES = frozenset({"dark", "pale"})
_LIST_LINKS = ("and", "or", ",")


class _Tokens:
    """One piece being re-tagged: words, (repaired) tags, lexicon kind and canonical form.

    ``kind`` is COL / AMB (ambiguous colour) / PAT / NEG / BE / WDT / SHADE / INT / FILL or None.
    """

    __slots__ = ("canon", "kind", "n", "tags", "words")

    def __init__(self, tagged: Tagged):
        self.words = [w for w, _ in tagged]
        self.tags = [t for _, t in tagged]
        self.n = len(tagged)
        self.kind: list[str | None] = [None] * self.n
        self.canon: list[str | None] = [None] * self.n


class Retagger:
    """Tagger output → (canonical word, tag) pairs the chunk grammar reads."""

    def __init__(self, words: WordTests, nouns: NounReader):
        self.words = words
        self.nouns = nouns

    def retag(self, tagged: Tagged) -> Tagged:
        """Apply the lexicon to one tagged piece; returns (canonical word, tag) pairs."""
        toks = _Tokens(expand_part_adjectives(tagged, self.words))
        # token by token, left to right (rules look at earlier results): the first rule that
        # applies of negation, colour, another lexicon word, else a repair of the tagger's tag
        for i, w in enumerate(toks.words):
            if w in lx.NEGATION_CUES:
                toks.kind[i] = "NEG"
            elif not self._classify_lexicon_word(toks, i):
                self._repair_tag(toks, i)
        self._resolve_ambiguous_colours(toks)
        out = _merge_colours(toks)
        self._resolve_intensifiers(out)
        return [(item[0], item[1]) for item in out]

    # ----------------------------------------------------------------------- token by token
    def _classify_lexicon_word(self, toks: _Tokens, i: int) -> bool:
        """Give token ``i`` its lexicon kind (and canonical form) if it has one: a colour (or a
        noun right before 'colored': 'a caramel colored dog'), a pattern word, shade,
        intensifier, colour filler, copula, or a relative pronoun after a noun."""
        w, t, tags, kind = toks.words[i], toks.tags[i], toks.tags, toks.kind
        c = lx.canonical_colour(w)
        if c is None and t == "NN" and i + 1 < toks.n and toks.words[i + 1] in COLORED and self.words.colour_noun(w):
            c = w  # the noun names the colour
        if c is not None:
            ambiguous = all(lx.base_colour(p) in lx.AMBIGUOUS_COLOURS for p in c.split(" ")[-1].split("-"))
            kind[i], toks.canon[i] = ("AMB" if ambiguous else "COL"), c
        elif w in lx.MODIFIER_CANON:
            kind[i], toks.canon[i] = "PAT", lx.MODIFIER_CANON[w]
        elif w in lx.SHADES:
            kind[i] = "SHADE"
            if t in NOUN_TAGS and w in _SHADE_ADJECTIVES and i + 1 < toks.n and tags[i + 1] in NOUN_TAGS:
                tags[i] = "JJ"  # 'a long dark/NN beak': an adjective before a noun
        elif w in lx.INTENSIFIERS:
            kind[i] = "INT"
        elif w in lx.COLOUR_FILLERS:
            kind[i] = "FILL"
        elif w in lx.BE_WORDS and (w != "'s" or t == "VBZ"):
            kind[i] = "BE"
        elif w in _RELATIVE and i > 0 and tags[i - 1] in NOUN_TAGS:
            kind[i] = "WDT"
        else:
            return False
        return True

    def _repair_tag(self, toks: _Tokens, i: int) -> None:
        """Frequent tagger errors on words the lexicon does not classify."""
        w, t, tags = toks.words[i], toks.tags[i], toks.tags
        if t in NOUN_TAGS and w in lx.NOT_NOUNS:
            tags[i] = "RB"  # 'swimming towards/NNS'
        elif t == "NN" and i + 1 < toks.n and tags[i + 1] in NOUN_TAGS and self.words.adjective_not_noun(w):
            tags[i] = "JJ"  # 'a snowy/NN hill': an adjective WordNet has no noun for
        elif t == "JJ" and self.words.noun_not_adjective(w):
            tags[i] = "NN"  # 'while dog/JJ sits': the tagger's JJ on a plain noun
        elif t == "JJ" and "-" in w and self.words.hyphenated_noun(w):
            tags[i] = "NN"  # 'a spider-man/JJ outfit', 't-shirt': a hyphenated noun
        elif t == "VBN" and _after_copula(i, toks.kind, tags):
            tags[i] = "PASS"  # 'the picture was taken outdoors': passive verb, no modifier
        elif t not in NOUN_TAGS and (i == 0 or toks.kind[i - 1] in _LEXICAL_MODS or tags[i - 1] not in _NO_NOUN_AFTER):
            # body-part nouns the tagger reads as adverbs/verbs ('belly' RB, 'wing' VBG)
            if w in lx.PART_WORDS:
                tags[i] = "NN"
            elif w.endswith("s") and self.nouns.lemma(w, "NNS") in lx.PART_WORDS:
                tags[i] = "NNS"

    # ------------------------------------------------------------------------ whole piece
    def _resolve_ambiguous_colours(self, toks: _Tokens) -> None:
        """Ambiguous colour names ('cream', 'olive', 'gold') are colours only in colour context:
        tagged JJ, listed with another colour, or before a body-part noun (lexicon policy)."""
        words, tags, kind, n = toks.words, toks.tags, toks.kind, toks.n
        for i in range(n):
            if kind[i] != "AMB":
                continue
            prev_k = kind[i - 2] if i >= 2 and words[i - 1] in _LIST_LINKS else (kind[i - 1] if i >= 1 else None)
            next_k = kind[i + 2] if i + 2 < n and words[i + 1] in _LIST_LINKS else (kind[i + 1] if i + 1 < n else None)
            j = i + 1
            while j < n and kind[j] == "FILL":  # 'cream colored belly'
                j += 1
            next_part = j < n and tags[j] in NOUN_TAGS and self.nouns.lemma(words[j], tags[j]) in lx.PART_WORDS
            if tags[i] == "JJ" or "COL" in (prev_k, next_k) or next_part:
                kind[i] = "COL"
            else:
                kind[i], toks.canon[i] = None, None

    def _resolve_intensifiers(self, out: list[list]) -> None:
        """Intensifiers count only in front of a modifier (right to left, so chains work);
        elsewhere the tagger's reading stands, with the JJ → NN repair ('a snow/JJ valley')."""
        next_tag = None
        for item in reversed(out):
            if item[2] == "INT":
                if next_tag in ("COL", "PAT", "INT") or (item[0] in lx.ADVERB_INTENSIFIERS and next_tag in ("JJ", "VBN")):
                    item[1] = "INT"
                elif item[1] == "JJ" and self.words.noun_not_adjective(item[0]):
                    item[1] = "NN"
            next_tag = item[1]


def _after_copula(i: int, kind: list, tags: list) -> bool:
    """Whether token ``i`` follows a copula, with only adverbs/negations between."""
    j = i - 1
    while j >= 0 and (kind[j] in ("NEG", "INT") or tags[j] in ("RB", "RBR", "RBS")):
        j -= 1
    return j >= 0 and kind[j] == "BE"


def _merge_colours(toks: _Tokens) -> list[list]:
    """[word, tag, kind(, last index)] items: a shade joins the colour after it, adjacent colours
    form one hedged compound, fillers after a colour are dropped ('cream colored')."""
    words, tags, kind, canon, n = toks.words, toks.tags, toks.kind, toks.canon, toks.n
    out: list[list] = []
    i = 0
    while i < n:
        k = kind[i]
        if k == "SHADE" and i + 1 < n and kind[i + 1] == "COL" and " " not in canon[i + 1]:
            out.append([f"{words[i]} {canon[i + 1]}", "COL", "COL", i + 1])
            i += 2
            continue
        if k == "COL":
            prev = out[-1] if out else None
            if prev is not None and prev[2] == "COL" and prev[3] == i - 1 and _mergeable(prev[0], canon[i]):
                prev[0] = f"{prev[0]}-{canon[i]}"
                prev[3] = i
            else:
                out.append([canon[i], "COL", "COL", i])
        elif k == "FILL" and out and out[-1][2] == "COL":
            pass
        elif k == "PAT":
            out.append([canon[i], "PAT", "PAT"])
        elif k in ("NEG", "BE", "WDT"):
            out.append([words[i], k, k])
        else:
            out.append([words[i], tags[i], k])
        i += 1
    return out


def _mergeable(prev_colour: str, colour: str) -> bool:
    """Two adjacent colours form one hedged compound (see lexicon policy)."""
    if " " in colour or "-" in prev_colour:  # shade on the second, or already a compound
        return False
    prev_hue = prev_colour.split(" ")[-1]
    hues = {prev_hue, *colour.split("-")}
    return not (hues & lx.ACHROMATIC_LIST_COLOURS) and prev_hue != colour
