"""Chunk tree → phrases: walk the top-level chunks of one piece in text order and track the
scope of negation cues (docs/captions.md, "Extract", the *negation* point)."""

from __future__ import annotations

from nltk import Tree

from filterspeak.captions.grammar import NOUN_TAGS
from filterspeak.captions.noun_phrases import NounPhraseReader
from filterspeak.captions.predicates import pred_phrases
from filterspeak.captions.results import Phrase

__all__ = ["PhraseExtractor"]

# Top-level tokens that end the scope of a preceding negation cue.
_NEG_BREAK_TAGS = frozenset({",", ".", ":", "WDT", "WP", "BE", "(", ")"})
# Conjunctions that carry a negation on to the next chunk ('no crest or wingbars').
_NEG_CARRIERS = ("or", "nor")


class PhraseExtractor:
    """Phrases of one chunked piece."""

    def __init__(self, reader: NounPhraseReader, lemmatizer):
        self.reader = reader
        self.lemmatizer = lemmatizer

    def extract(self, tree: Tree) -> list[Phrase]:
        """Phrases of every chunk, in text order. A NEG token negates the next chunks until a
        punctuation mark, copula, relative pronoun or other conjunction than 'or'/'nor' ends
        its scope; a NEG inside a modifier list negates what follows it too."""
        nodes = list(tree)
        out: list[Phrase] = []
        pending_neg = False
        for i, node in enumerate(nodes):
            if not isinstance(node, Tree):
                pending_neg = _negation_after_token(node, pending_neg)
                continue
            label = node.label()
            if label == "ADJS":
                out.extend(self._located_phrases(node, nodes, i, pending_neg))
                pending_neg = pending_neg or any(t == "NEG" for _, t in node.leaves())
            elif label == "NP" and self._is_clothing_colour(node, nodes[i - 1] if i else None):
                continue
            elif label in ("NP", "PRED"):
                if label == "NP":
                    out.extend(self.reader.phrases(node, pending_neg))
                else:
                    out.extend(pred_phrases(self.reader, node, nodes, i, pending_neg))
                pending_neg = pending_neg and _negation_carried(nodes, i)
        return out

    def _located_phrases(self, adjs: Tree, nodes: list, i: int, negated: bool) -> list[Phrase]:
        """'white with black on its wings and tail' → black wing, black tail: colours and pattern
        words of the ADJS at ``nodes[i]`` located on the body parts of a following 'on <NP>'."""
        out = []
        for noun in self.reader.located_parts(nodes, i + 1):
            for m, t, mneg in self.reader.modifiers(adjs):
                if t in ("COL", "PAT"):
                    out.append(Phrase(m, noun, negated or mneg))
        return out

    def _is_clothing_colour(self, np: Tree, prev) -> bool:
        """'a man in red lays on ...': 'in' + bare colour + a verb the tagger read as a plural
        noun. The colour is the noun (clothing); there is no attribute."""
        if prev is None or isinstance(prev, Tree) or prev[0] != "in":
            return False
        leaves = np.leaves()
        nouns = [(w, t) for w, t in leaves if t in NOUN_TAGS]
        return (
            len(nouns) == 1
            and nouns[0][1] == "NNS"
            and all(t in ("COL", "NNS", "CC", ",") for _, t in leaves)
            and self.lemmatizer.verb_dominant(nouns[0][0], factor=3)  # not 'in pink dresses'
        )


def _negation_after_token(token: tuple[str, str], pending: bool) -> bool:
    """A NEG token opens a negation scope; punctuation, copulas, relative pronouns and
    conjunctions other than 'or'/'nor' close it."""
    word, tag = token
    if tag == "NEG":
        return True
    if tag in _NEG_BREAK_TAGS or (tag == "CC" and word not in _NEG_CARRIERS):
        return False
    return pending


def _negation_carried(nodes: list, i: int) -> bool:
    """Whether a negation reaches past the chunk at ``nodes[i]``: only over 'or' / 'nor'."""
    nxt = nodes[i + 1] if i + 1 < len(nodes) else None
    return nxt is not None and not isinstance(nxt, Tree) and nxt[1] == "CC" and nxt[0] in _NEG_CARRIERS
