"""Word-class questions the re-tagger asks about single words, answered from the lexicon and
WordNet: is this a modifier, a noun WordNet has no adjective for, a colour named by a noun?

They repair frequent tagger errors (docs/captions.md, "Re-tag"); each is a pure function of the
word, the parser's config and WordNet.
"""

from __future__ import annotations

from filterspeak.captions import lexicon as lx
from filterspeak.captions.config import ParserConfig

__all__ = ["ED_PART_NOUNS", "NUMBER_WORDS", "WordTests"]

# Not modifiers of a '-<part>ed' adjective: 'three-legged', 'two-toned', 'one-eyed'.
NUMBER_WORDS = frozenset(
    ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "single", "double", "triple", "multi"]
)
# Nouns besides the body-part words that form '<modifier>-<noun>ed' adjectives of people/animals.
ED_PART_NOUNS = frozenset({"hair", "skin"})


class WordTests:
    """Lexicon + WordNet tests on one word, for one parser config."""

    def __init__(self, config: ParserConfig, lemmatizer):
        self.config = config
        self.lemmatizer = lemmatizer

    def modifier_word(self, word: str, tag: str | None = None) -> bool:
        """A colour, lexicon modifier, shade, or an adjective (by tag or WordNet)."""
        if not word or word in self.config.stop_modifiers or word in NUMBER_WORDS:
            return False
        if lx.canonical_colour(word) is not None or word in lx.MODIFIER_CANON or word in lx.SHADES:
            return True
        if tag is not None and tag != "NN":
            return tag == "JJ"
        return word.isalpha() and self.lemmatizer.known(word, "a")

    def colour_noun(self, word: str) -> bool:
        """Whether a noun before 'colored' names the colour ('caramel', 'rainbow', 'rust')."""
        return (
            word.isalpha()
            and len(word) > 2
            and word not in self.config.stop_modifiers
            and word not in self.config.stop_nouns
            and word not in lx.PART_WORDS
            and word not in ED_PART_NOUNS
        )

    def hyphenated_noun(self, word: str) -> bool:
        """'spider-man', 'shoe-shine', 't-shirt': noun-noun (a noun, then a word WordNet knows
        only as a noun); not 'multi-print' or 'off-road', which modify."""
        first, _, last = word.partition("-")
        last = last.rpartition("-")[2]
        return (
            first.isalpha()
            and self.lemmatizer.known(first, "n")
            and not self.lemmatizer.known(first, "a")
            and self.noun_not_adjective(last)
        )

    def adjective_not_noun(self, word: str) -> bool:
        """WordNet knows ``word`` as an adjective and not as a noun ('snowy')."""
        lem = self.lemmatizer
        return word.isalpha() and lem.known(word, "a") and not lem.known(word, "n")

    def noun_not_adjective(self, word: str) -> bool:
        """WordNet knows ``word`` as a noun and not as an adjective ('dog', 'snow')."""
        lem = self.lemmatizer
        return word.isalpha() and lem.known(word, "n") and not lem.known(word, "a")
