"""Caption text → attribute phrases ("red crown", "striped wing"): the public entry point.

:class:`CaptionParser` runs the pipeline; each step is a module of its own, and
``docs/captions.md`` ("Parser pipeline") is the specification of every policy:

1. normalise and split into sentences, tokenise — :mod:`~filterspeak.captions.normalise`;
2. POS-tag (NLTK's averaged perceptron, exactly, via :mod:`~filterspeak.captions.fast_nltk`);
3. re-tag from the lexicon — :mod:`~filterspeak.captions.retag`,
   :mod:`~filterspeak.captions.part_adjectives`, :mod:`~filterspeak.captions.words`;
4. chunk — :mod:`~filterspeak.captions.grammar`;
5. extract phrases — :mod:`~filterspeak.captions.extract`, :mod:`~filterspeak.captions.predicates`,
   :mod:`~filterspeak.captions.noun_phrases`, :mod:`~filterspeak.captions.nouns`;
6. de-duplicate, cache and (for large inputs) use worker processes —
   :mod:`~filterspeak.captions.batching`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from filterspeak.captions import batching, nltk_resources
from filterspeak.captions.batching import PARALLEL_MIN_SENTENCES, SPAWN_MIN_SENTENCES, BatchRun, SentenceCache, SentenceResult
from filterspeak.captions.config import DEFAULT_CONFIG, PARSER_VERSION, ParserConfig
from filterspeak.captions.grammar import GRAMMAR, MOD_TAGS, make_chunker
from filterspeak.captions.normalise import MAX_TOKENS, caption_sentences, tokenize
from filterspeak.captions.normalise import normalise as _normalise  # noqa: F401 - benchmarks import these
from filterspeak.captions.normalise import split_sentences as _split_sentences  # noqa: F401
from filterspeak.captions.normalise import tokenize as _tokenize  # noqa: F401
from filterspeak.captions.nouns import NounReader
from filterspeak.captions.results import ParseFailure, Phrase
from filterspeak.captions.retag import Retagger
from filterspeak.captions.words import WordTests

__all__ = [
    "GRAMMAR",
    "MAX_TOKENS",
    "PARALLEL_MIN_SENTENCES",
    "PARSER_VERSION",
    "SPAWN_MIN_SENTENCES",
    "BatchRun",
    "CaptionParser",
    "ParseFailure",
    "ParserConfig",
    "Phrase",
]


class CaptionParser:
    """Extract attribute phrases from captions. Loads the NLTK tagger/WordNet on construction
    (once per process; :class:`~filterspeak.captions.nltk_resources.NltkDataMissing` if absent).

    ``last_run`` (a :class:`~filterspeak.captions.batching.BatchRun`, None before the first
    parse) says how the latest :meth:`parse_many` parsed its new sentences.
    """

    def __init__(self, config: ParserConfig = DEFAULT_CONFIG, engine: Literal["fast", "nltk"] = "fast"):
        if not isinstance(config, ParserConfig):
            raise TypeError(f"config must be a ParserConfig, got {type(config).__name__}")
        if engine not in ("fast", "nltk"):
            raise ValueError(f"engine must be 'fast' or 'nltk', got {engine!r}")
        # these import nltk (~0.5 s): only when a parser is built, not when this module is imported
        from filterspeak.captions.extract import PhraseExtractor
        from filterspeak.captions.noun_phrases import NounPhraseReader

        self.config = config
        self.engine = engine
        tagger = nltk_resources.get_tagger()
        if engine == "fast":  # same output as NLTK's objects, ~4x faster (fast_nltk)
            from filterspeak.captions import fast_nltk

            tagger = fast_nltk.fast_tagger(tagger)
        self._tagger = tagger
        self._chunker = make_chunker(engine)
        lemmatizer = nltk_resources.get_lemmatizer()
        nouns = NounReader(config, lemmatizer)
        self._retagger = Retagger(WordTests(config, lemmatizer), nouns)
        self._extractor = PhraseExtractor(NounPhraseReader(config, nouns, lemmatizer), lemmatizer)
        self._cache = SentenceCache()
        self.last_run: BatchRun | None = None

    def __repr__(self) -> str:
        return f"CaptionParser(negation={self.config.negation!r})"

    # ------------------------------------------------------------------------------ public API
    def parse(self, text: str) -> list[Phrase]:
        """Phrases of one caption (possibly several sentences), in text order, each once."""
        return self.parse_many([text])[0]

    def parse_many(
        self, texts: Sequence[str], progress: bool = False, workers: int | None = 1, failures: list[ParseFailure] | None = None
    ) -> list[list[Phrase]]:
        """Phrases for each caption; identical sentences are parsed once, tagging is batched.

        ``failures``: when a list is given, one :class:`~filterspeak.captions.results.ParseFailure`
        ``(index, reason)`` is appended, in index order, for each caption that could not be
        parsed (its phrases are then ``[]``) or not all of it (the phrases of its other
        sentences are kept). Reasons: ``"not text (<type>)"`` for an input that is neither a
        string, a number nor missing (``None``/NaN are empty captions, not failures), and
        ``"chunk grammar cannot read the tags: ..."`` for tagger output the grammar rejects.

        ``workers``: processes for large inputs. With more than :data:`PARALLEL_MIN_SENTENCES`
        new sentences and ``workers`` > 1 (``None``: one per usable CPU), the unique sentences
        are split across a :class:`multiprocessing.Pool` whose workers each build one parser.
        Workers are forked when this process has a single thread; otherwise (e.g. inside a
        Prefect task) they are spawned, and only for more than :data:`SPAWN_MIN_SENTENCES`
        sentences. The output is the same as with ``workers=1``; if the pool cannot start, the
        parse runs in this process (``last_run.reason`` says why).
        """
        per_text, not_text = caption_sentences(texts)
        known: dict[str, SentenceResult] = {}
        todo: dict[str, None] = {}
        for sents in per_text:
            for s in sents:
                if s not in known and s not in todo:
                    hit = self._cache.get(s)
                    if hit is None:
                        todo[s] = None
                    else:
                        known[s] = hit
        if todo:
            fresh, self.last_run = batching.parse_sentences(self, list(todo), progress, workers)
            for s, result in fresh.items():
                self._cache.store(s, result)
            known.update(fresh)
        else:
            self.last_run = BatchRun("cached")
        out: list[list[Phrase]] = []
        for index, sents in enumerate(per_text):
            seen: dict[Phrase, None] = {}
            reason = not_text.get(index)
            for s in sents:
                phrases, why = known[s]
                reason = reason or why
                for p in phrases:
                    seen.setdefault(p, None)
            out.append(list(seen))
            if reason is not None and failures is not None:
                failures.append(ParseFailure(index, reason))
        return out

    def parse_batch(self, sentences: list[str]) -> list[SentenceResult]:
        """(phrases, failure reason or None) of each normalised sentence, tokenised and tagged
        together; what :mod:`~filterspeak.captions.batching` runs in and out of process."""
        pieces_per_sent = []
        flat: list[list[str]] = []
        for s in sentences:
            pieces = tokenize(s)
            pieces_per_sent.append(len(pieces))
            flat.extend(pieces)
        tagged = self._tagger.tag_sents(flat)
        results: list[SentenceResult] = []
        k = 0
        for n in pieces_per_sent:
            phrases: list[Phrase] = []
            reason = None
            for piece in tagged[k : k + n]:
                piece_phrases, why = self._analyse(piece)
                phrases.extend(piece_phrases)
                reason = reason or why
            k += n
            if self.config.negation == "drop":
                phrases = [p for p in phrases if not p.negated]
            results.append((tuple(dict.fromkeys(phrases)), reason))
        return results

    # ----------------------------------------------------------------------- one tagged piece
    def _analyse(self, tagged: list[tuple[str, str]]) -> tuple[list[Phrase], str | None]:
        """Re-tag, chunk and extract one piece: (phrases, failure reason or None)."""
        if not tagged:
            return [], None
        retagged = self._retagger.retag(tagged)
        if not any(t in MOD_TAGS for _, t in retagged):
            return [], None  # every phrase needs a modifier: skip the chunker
        try:
            tree = self._chunker.parse(retagged)
        except ValueError as exc:  # nltk.RegexpParser on tags it cannot read (e.g. with '{}')
            return [], f"chunk grammar cannot read the tags: {exc}"
        return self._extractor.extract(tree), None
