"""What one NP chunk says: its modifiers, its noun groups, and the phrases of its own modifiers
(docs/captions.md, "Extract": coordination and the verbs the tagger read as nouns)."""

from __future__ import annotations

from typing import NamedTuple

from nltk import Tree

from filterspeak.captions import lexicon as lx
from filterspeak.captions.config import ParserConfig
from filterspeak.captions.grammar import MOD_TAGS, NOUN_TAGS
from filterspeak.captions.nouns import WORDLIKE_RE, NounReader
from filterspeak.captions.results import Phrase

__all__ = ["LOCATIVE_PREPS", "Modifier", "NounPhraseParts", "NounPhraseReader"]

_SINGULAR_DETS = frozenset({"a", "an", "this", "that", "each", "every", "another", "one"})
# A modifier list followed by one of these and a body-part noun phrase describes that part:
# 'white with black on its wings' → black wing.
LOCATIVE_PREPS = frozenset({"on"})


class Modifier(NamedTuple):
    word: str
    tag: str
    negated: bool


class NounPhraseParts(NamedTuple):
    """An NP taken apart. ``split`` is the index of the first coordinated noun group that is a
    noun phrase of its own (a bare plural after a singular determiner: in "a black beak and
    wings" the "a" and the "black" belong to "beak" only); ``len(nouns)`` when there is none."""

    negated: bool
    modifiers: list[Modifier]
    nouns: list[str | None]
    split: int


class NounPhraseReader:
    """Reads NP and ADJS chunks for one parser config."""

    def __init__(self, config: ParserConfig, nouns: NounReader, lemmatizer):
        self.config = config
        self.nouns = nouns
        self.lemmatizer = lemmatizer

    def modifiers(self, adjs: Tree) -> list[Modifier]:
        """The modifiers of an ADJS chunk; a NEG negates the ones after it until a 'but'."""
        stop = self.config.stop_modifiers
        out = []
        neg = False
        for w, t in adjs.leaves():
            if t == "NEG":
                neg = True
            elif t == "CC" and w == "but":
                neg = False
            elif t in MOD_TAGS:
                if w in stop or not WORDLIKE_RE.match(w) or len(w) < 2:
                    continue
                out.append(Modifier(w, t, neg))
        return out

    def parts(self, np: Tree) -> NounPhraseParts:
        """Negation, modifiers, canonical noun per noun group, and the split (see
        :class:`NounPhraseParts`)."""
        np_neg = False
        singular_det = False
        mods: list[Modifier] = []
        groups: list[list[tuple[str, str]]] = [[]]
        for child in np:
            if isinstance(child, Tree):  # ADJS
                mods = self.modifiers(child)
                continue
            w, t = child
            if t == "NEG":
                np_neg = True
            elif t in NOUN_TAGS:
                groups[-1].append((w, t))
            elif t == "CC" and groups[-1]:
                groups.append([])
            elif w in _SINGULAR_DETS:
                singular_det = True
        groups = [g for g in groups if g]
        head = groups[0] if groups else []
        if singular_det and len(head) == 1 and head[0][1] == "NNS" and self.lemmatizer.verb_dominant(head[0][0], factor=2):
            groups, mods = self._drop_misread_verb(groups, mods)
            singular_det = False
        nouns = [self.nouns.noun(g) for g in groups]
        split = len(nouns)
        if singular_det and groups and groups[0][-1][1] == "NN":
            split = next((k for k in range(1, len(groups)) if groups[k][-1][1] == "NNS"), split)
        return NounPhraseParts(np_neg, mods, nouns, split)

    def _drop_misread_verb(self, groups: list, mods: list[Modifier]) -> tuple[list, list[Modifier]]:
        """'a woman wearing a blue uniform stands': 'a' + plural = a verb misread as a noun. Drop
        it; then the last modifier, if WordNet knows it as a noun, is the real head."""
        groups = groups[1:]
        if mods and not groups and mods[-1].tag == "JJ" and self.lemmatizer.known(mods[-1].word):
            groups = [[(mods[-1].word, "NN")]]
            mods = mods[:-1]
        return groups, mods

    def phrases(self, np: Tree, outer_neg: bool, own_last: bool = False) -> list[Phrase]:
        """Phrases of an NP's own modifiers. A modifier reaches coordinated noun groups only when
        all are body parts. ``own_last``: the last noun group is a noun phrase of its own (it
        heads a relative clause), so the modifiers do not reach it."""
        np_neg, mods, nouns, split = self.parts(np)
        if not mods or not nouns or nouns[0] is None:
            return []
        if own_last and len(nouns) > 1:
            split = min(split, len(nouns) - 1)
        neg0 = outer_neg or np_neg
        targets = [nouns[0]]
        if nouns[0] in lx.PART_WORDS:
            targets += [nn for nn in nouns[1:split] if nn is not None and nn in lx.PART_WORDS]
        return [Phrase(m, noun, neg0 or mneg) for noun in dict.fromkeys(targets) for m, _, mneg in mods]

    def located_parts(self, nodes: list, j: int) -> list[str]:
        """Body-part nouns of 'on <NP>' at ``nodes[j]`` when that NP has no modifier of its own
        and names only body parts ('on its wings and tail' → [wing, tail]); else []."""
        if j + 1 >= len(nodes):
            return []
        prep, np = nodes[j], nodes[j + 1]
        if isinstance(prep, Tree) or prep[0] not in LOCATIVE_PREPS or not isinstance(np, Tree) or np.label() != "NP":
            return []
        np_neg, mods, nouns, split = self.parts(np)
        parts = nouns[:split]
        if np_neg or mods or not parts or any(nn is None or nn not in lx.PART_WORDS for nn in parts):
            return []
        return list(dict.fromkeys(parts))


def singular_last(np: Tree) -> bool:
    """Whether the last noun of the NP is singular."""
    tags = [t for _, t in np.leaves() if t in NOUN_TAGS]
    return bool(tags) and tags[-1] == "NN"
