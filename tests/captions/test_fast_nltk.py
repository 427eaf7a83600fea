"""The fast tagger/chunker give NLTK's exact output; parse_many with workers gives the same."""

from __future__ import annotations

import random

import pytest
from _helpers import FLICKR, load_gold


def sample_captions(n: int = 3000) -> list[str]:
    texts = []
    for name in ("gold_birds.jsonl", "gold_birds_holdout.jsonl", "gold_flickr8k.jsonl"):
        texts += [record["text"] for record in load_gold(name)]
    texts += ["a bird with a red crown, " * 400, "123 456", "<b>x</b>", "no no no", "the 1990 red-ish car"]
    if FLICKR.exists():
        lines = FLICKR.read_text(encoding="utf-8").splitlines()
        texts += [line.split("\t", 1)[-1] for line in random.Random(7).sample(lines, n)]
    return texts


@pytest.fixture(scope="module")
def token_lists():
    from filterspeak.captions.parser import _normalise, _split_sentences, _tokenize

    return [piece for t in sample_captions() for s in _split_sentences(_normalise(t))
            for piece in _tokenize(s)]


def test_fast_tagger_matches_nltk(token_lists):
    from filterspeak.captions import nltk_resources
    from filterspeak.captions.fast_nltk import FastPerceptronTagger

    tagger = nltk_resources.get_tagger()
    fast = FastPerceptronTagger(tagger)
    assert fast.tag_sents(token_lists) == tagger.tag_sents(token_lists)
    # again, from the memo
    assert fast.tag_sents(token_lists[:200]) == tagger.tag_sents(token_lists[:200])
    assert fast.tag([]) == [] and fast.tag(["Odd-CASE", "1999", "42x", "-x"]) == tagger.tag(
        ["Odd-CASE", "1999", "42x", "-x"])


def test_fast_chunker_matches_regexp_parser(token_lists):
    import nltk

    from filterspeak.captions.fast_nltk import FastRegexpChunker
    from filterspeak.captions.parser import GRAMMAR, CaptionParser

    parser = CaptionParser(engine="nltk")
    reference = nltk.RegexpParser(GRAMMAR)
    fast = FastRegexpChunker(GRAMMAR)
    for tokens in token_lists:
        retagged = parser._retag(parser._tagger.tag(tokens))
        if retagged:
            assert fast.parse(retagged) == reference.parse(retagged)
    # odd tags go to NLTK's own parser
    odd = [("a", "DT"), ("x", "N{N}")]
    with pytest.raises(ValueError):
        reference.parse(odd)
    with pytest.raises(ValueError):
        fast.parse(odd)
    with pytest.raises(ValueError, match="only 'LABEL"):
        FastRegexpChunker("NP: }<DT>{")


def test_engines_give_the_same_phrases():
    from filterspeak.captions.parser import CaptionParser

    texts = sample_captions(1500)
    assert CaptionParser(engine="fast").parse_many(texts) == CaptionParser(
        engine="nltk").parse_many(texts)
    with pytest.raises(ValueError):
        CaptionParser(engine="spacy")


def test_parse_many_workers_same_output(monkeypatch):
    from filterspeak.captions import parser as parser_module
    from filterspeak.captions.parser import CaptionParser

    texts = sample_captions(1500)
    serial = CaptionParser().parse_many(texts, workers=1)
    monkeypatch.setattr(parser_module, "PARALLEL_MIN_SENTENCES", 100)
    monkeypatch.setattr(parser_module, "_resolve_workers",
                        lambda workers, n: 1 if workers == 1 or n <= 100 else 2)
    fresh = CaptionParser()
    assert fresh.parse_many(texts, workers=2) == serial
    assert len(fresh._cache) > 100  # results land in the parent's cache
    assert fresh.parse_many(texts[:50], workers=2) == serial[:50]


def test_parse_many_falls_back_when_the_pool_fails(monkeypatch):
    from filterspeak.captions import parser as parser_module
    from filterspeak.captions.parser import CaptionParser

    texts = sample_captions(600)
    serial = CaptionParser().parse_many(texts)

    class NoPool:
        def get_start_method(self):
            return "fork"

        def Pool(self, *args, **kwargs):  # noqa: N802 - multiprocessing's name
            raise OSError("no semaphores here")

    monkeypatch.setattr(parser_module, "_mp_context", NoPool)
    monkeypatch.setattr(parser_module, "_resolve_workers", lambda workers, n: 2)
    assert CaptionParser().parse_many(texts, workers=2) == serial

    def no_multiprocessing():
        raise ImportError("no _multiprocessing")

    monkeypatch.setattr(parser_module, "_mp_context", no_multiprocessing)
    assert CaptionParser().parse_many(texts, workers=2) == serial


def test_spawned_workers_only_for_large_inputs(monkeypatch):
    """In a multi-threaded process (a Prefect worker) the pool is spawned, which costs an NLTK
    load per worker: inputs up to SPAWN_MIN_SENTENCES stay in-process."""
    from filterspeak.captions import parser as parser_module
    from filterspeak.captions.parser import CaptionParser

    class SpawnOnly:
        def get_start_method(self):
            return "spawn"

        def Pool(self, *args, **kwargs):  # noqa: N802
            raise AssertionError("a pool was started for a small input")

    texts = sample_captions(600)
    monkeypatch.setattr(parser_module, "_mp_context", SpawnOnly)
    monkeypatch.setattr(parser_module, "_resolve_workers", lambda workers, n: 2)
    assert CaptionParser().parse_many(texts, workers=2) == CaptionParser().parse_many(texts)


def test_resolve_workers():
    from filterspeak.captions.parser import PARALLEL_MIN_SENTENCES, _resolve_workers

    assert _resolve_workers(2, PARALLEL_MIN_SENTENCES) == 1  # small inputs stay in-process
    assert _resolve_workers(2, 40_000) == 2
    assert _resolve_workers(1, 40_000) == 1
    assert _resolve_workers(None, 40_000) >= 1
    assert _resolve_workers(8, 6_000) == 6  # at least ~1,000 sentences per worker
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError):
            _resolve_workers(bad, 40_000)


def test_parser_config_pickles():
    import pickle

    from filterspeak.captions.parser import ParserConfig

    for config in (ParserConfig(), ParserConfig(synonyms={"bill": "beak"}, stop_nouns={"bird"},
                                                stop_modifiers=(), negation="mark")):
        copy = pickle.loads(pickle.dumps(config))
        assert copy == config and hash(copy) == hash(config)
        assert copy.to_dict() == config.to_dict()


def test_spawned_workers_give_the_same_output(monkeypatch):
    """The spawn start method (used in multi-threaded processes): workers load the NLTK data
    themselves (~3 s) and return the same phrases."""
    import multiprocessing as mp

    from filterspeak.captions import parser as parser_module
    from filterspeak.captions.parser import CaptionParser, ParserConfig

    texts = sample_captions(1500)
    config = ParserConfig(negation="mark")
    serial = CaptionParser(config).parse_many(texts)
    monkeypatch.setattr(parser_module, "_mp_context", lambda: mp.get_context("spawn"))
    monkeypatch.setattr(parser_module, "SPAWN_MIN_SENTENCES", 100)
    monkeypatch.setattr(parser_module, "_resolve_workers", lambda workers, n: 2)
    calls = []
    original = parser_module.CaptionParser._parse_sentences
    monkeypatch.setattr(parser_module.CaptionParser, "_parse_sentences",
                        lambda self, *a: calls.append(1) or original(self, *a))
    assert CaptionParser(config).parse_many(texts, workers=2) == serial
    assert calls == []  # the pool did the work (no in-process fallback)
