"""Noun groups → canonical nouns: lemmatise the head, apply synonyms and stop nouns, drop verbs
the tagger read as nouns (docs/captions.md, "Extract", the *nouns* and *verbs* points)."""

from __future__ import annotations

import re

from filterspeak.captions import lexicon as lx
from filterspeak.captions.config import ParserConfig

__all__ = ["WORDLIKE_RE", "NounReader"]

#: A word (a letter first, then letters, digits, apostrophes, hyphens, spaces): not punctuation.
WORDLIKE_RE = re.compile(r"^[^\W\d_][\w'\- ]*$", re.UNICODE)
_NOUN_CACHE_MAX = 100_000


class NounReader:
    """Lemmas and canonical nouns for one parser config; noun groups are memoised."""

    def __init__(self, config: ParserConfig, lemmatizer):
        self.config = config
        self.lemmatizer = lemmatizer
        self._cache: dict[tuple[tuple[str, ...], str], str | None] = {}

    def lemma(self, word: str, tag: str) -> str:
        """Singular of a noun: lexicon exceptions first, then WordNet, then a plain -s rule for
        plurals WordNet does not know."""
        if word in lx.PLURALIA_TANTUM:
            return word
        irregular = lx.IRREGULAR_PLURALS.get(word)
        if irregular is not None:
            return irregular
        if "-" in word:
            head, _, last = word.rpartition("-")
            return f"{head}-{self.lemma(last, tag)}" if last else word
        lemma = self.lemmatizer.lemmatize_plural(word) if tag == "NNS" else self.lemmatizer.lemmatize(word, "n")
        if (
            lemma == word
            and tag == "NNS"
            and len(word) > 3
            and word.endswith("s")
            and not word.endswith(("ss", "us", "is"))
            and not self.lemmatizer.known(word)
        ):
            if word.endswith("ies"):
                return word[:-3] + "y"
            if word.endswith(("ches", "shes", "xes", "sses")):
                return word[:-2]
            return word[:-1]
        return lemma

    def noun(self, group: list[tuple[str, str]]) -> str | None:
        """The canonical noun of a noun group [(word, tag), ...], or None (stop nouns only)."""
        key = (tuple(w for w, _ in group), group[-1][1])
        if key in self._cache:
            return self._cache[key]
        result = self._noun_uncached(group)
        if len(self._cache) < _NOUN_CACHE_MAX:
            self._cache[key] = result
        return result

    def _noun_uncached(self, group: list[tuple[str, str]]) -> str | None:
        if not WORDLIKE_RE.match(group[-1][0]):
            return None
        group = self._drop_verbs([(w, t) for w, t in group if WORDLIKE_RE.match(w)])
        words = [w for w, _ in group]
        words[-1] = self.lemma(words[-1], group[-1][1])
        syn = self.config.synonyms
        stop = self.config.stop_nouns
        if len(words) >= 2:
            pair = f"{words[-2]} {words[-1]}"
            if pair in syn:
                words = [*words[:-2], syn[pair]]
        words = [syn.get(w, w) for w in words]
        words = [w for w in words if w not in stop and w not in ("'s",)]
        if not words:
            return None
        noun = " ".join(words[-2:])  # at most the last two nouns: 'tail feather'
        return syn.get(noun, noun)

    def _drop_verbs(self, group: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """'a black dog jumps' / 'a dog running': the tagger often reads the verb after a noun as
        a plural noun or a gerund noun; drop it when WordNet says it is mostly a verb. Inside the
        group a singular noun + such a verb ends it ('a drummer plays music')."""
        lem = self.lemmatizer
        for k in range(1, len(group) - 1):
            if group[k][1] == "NNS" and group[k - 1][1] == "NN" and lem.verb_dominant(group[k][0], factor=2):
                group = group[:k]
                break
        while len(group) >= 2:
            w, t = group[-1]
            gerund = w.endswith("ing") and w not in lem.lemmas(w, "v")  # not 'ring'
            if (t == "NNS" and lem.verb_dominant(w, factor=2)) or (
                gerund and lem.verb_dominant(w, factor=3)  # 'brick building'
            ):
                group = group[:-1]
            else:
                break
        return group
