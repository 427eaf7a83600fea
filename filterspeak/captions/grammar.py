r"""The chunk grammar and the tag set it reads (docs/captions.md, "Chunk").

The re-tagger (:mod:`~filterspeak.captions.retag`) writes Penn tags plus the lexicon's own
(COL, PAT, INT, NEG, BE, WDT, PASS, SEP); the grammar groups them into modifier lists (ADJS),
noun phrases (NP) and predicates (PRED), which :mod:`~filterspeak.captions.extract` reads.
"""

from __future__ import annotations

__all__ = ["GRAMMAR", "MOD_TAGS", "NOUN_TAGS", "make_chunker"]

#: The cascaded chunk grammar: modifier lists, noun phrases, predicates.
GRAMMAR = r"""
ADJS: {<NEG|INT|RB>*<COL|PAT|JJ|VBN>(<,|CC>*<NEG|INT|RB>*<COL|PAT|JJ|VBN>)*}
NP:   {<NEG>?<DT|PDT|PRP\$|CD|POS|WP\$>*<ADJS>?<NN|NNS>+(<CC><NN|NNS>+)*}
PRED: {<NP><WDT|WP>?<BE><NEG|RB|INT>*<DT>?<ADJS>}
"""

#: Tags of a modifier: every phrase needs one, so a piece without any skips the chunker.
MOD_TAGS = frozenset({"COL", "PAT", "JJ", "VBN"})
NOUN_TAGS = frozenset({"NN", "NNS"})


def make_chunker(engine: str):
    """The chunker for ``engine``: ``"fast"`` is the exact re-implementation in
    :mod:`~filterspeak.captions.fast_nltk` (same trees, several times faster), ``"nltk"`` is
    :class:`nltk.RegexpParser` itself."""
    if engine == "fast":
        from filterspeak.captions import fast_nltk

        return fast_nltk.FastRegexpChunker(GRAMMAR)
    import nltk

    return nltk.RegexpParser(GRAMMAR)
