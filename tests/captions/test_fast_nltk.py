"""The fast tagger/chunker give NLTK's exact output; parse_many with workers gives the same."""

from __future__ import annotations

import os
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
    from filterspeak.captions.normalise import normalise, split_sentences, tokenize

    return [piece for t in sample_captions() for s in split_sentences(normalise(t)) for piece in tokenize(s)]


def test_fast_tagger_matches_nltk(token_lists):
    from filterspeak.captions import nltk_resources
    from filterspeak.captions.fast_nltk import FastPerceptronTagger

    tagger = nltk_resources.get_tagger()
    fast = FastPerceptronTagger(tagger)
    assert fast.tag_sents(token_lists) == tagger.tag_sents(token_lists)
    # again, from the memo
    assert fast.tag_sents(token_lists[:200]) == tagger.tag_sents(token_lists[:200])
    assert fast.tag([]) == [] and fast.tag(["Odd-CASE", "1999", "42x", "-x"]) == tagger.tag(["Odd-CASE", "1999", "42x", "-x"])


def test_fast_chunker_matches_regexp_parser(token_lists):
    import nltk

    from filterspeak.captions.fast_nltk import FastRegexpChunker
    from filterspeak.captions.parser import GRAMMAR, CaptionParser

    parser = CaptionParser(engine="nltk")
    reference = nltk.RegexpParser(GRAMMAR)
    fast = FastRegexpChunker(GRAMMAR)
    for tokens in token_lists:
        retagged = parser._retagger.retag(parser._tagger.tag(tokens))
        if retagged:
            assert fast.parse(retagged) == reference.parse(retagged)
    # odd tags go to NLTK's own parser
    odd = [("a", "DT"), ("x", "N{N}")]
    with pytest.raises(ValueError, match="invalid chunkstring"):
        reference.parse(odd)
    with pytest.raises(ValueError, match="invalid chunkstring"):
        fast.parse(odd)
    with pytest.raises(ValueError, match="only 'LABEL"):
        FastRegexpChunker("NP: }<DT>{")


def test_engines_give_the_same_phrases():
    from filterspeak.captions.parser import CaptionParser

    texts = sample_captions(1500)
    assert CaptionParser(engine="fast").parse_many(texts) == CaptionParser(engine="nltk").parse_many(texts)
    with pytest.raises(ValueError, match="engine must be 'fast' or 'nltk', got 'spacy'"):
        CaptionParser(engine="spacy")


def _force_pool(monkeypatch, batching, context=None):
    """Make parse_many use a 2-process pool for inputs of over 100 sentences."""
    monkeypatch.setattr(batching, "PARALLEL_MIN_SENTENCES", 100)
    monkeypatch.setattr(batching, "resolve_workers", lambda workers, n: 1 if workers == 1 or n <= 100 else 2)
    if context is not None:
        monkeypatch.setattr(batching, "mp_context", lambda: context)


def _ran_in_worker_processes(run, workers: int = 2) -> bool:
    return (
        run.mode == "pool"
        and run.workers == workers
        and run.reason is None
        and len(run.worker_pids) >= 1
        and os.getpid() not in run.worker_pids
    )


def test_parse_many_workers_same_output(monkeypatch):
    import multiprocessing as mp

    from filterspeak.captions import batching
    from filterspeak.captions.parser import CaptionParser

    texts = sample_captions(1500)
    parser = CaptionParser()
    serial = parser.parse_many(texts, workers=1)
    assert parser.last_run.mode == "in-process" and parser.last_run.workers == 1
    assert parser.last_run.sentences == len(parser._cache) > 100
    _force_pool(monkeypatch, batching, mp.get_context("fork"))
    fresh = CaptionParser()
    assert fresh.parse_many(texts, workers=2) == serial
    assert _ran_in_worker_processes(fresh.last_run), fresh.last_run
    assert fresh.last_run.sentences == len(fresh._cache)  # results land in the parent's cache
    assert fresh.parse_many(texts[:50], workers=2) == serial[:50]
    assert fresh.last_run.mode == "cached"


def test_an_error_in_a_worker_is_not_swallowed(monkeypatch):
    """A bug inside a worker fails the parse: no silent fallback, no lost sentences."""
    import multiprocessing as mp

    from filterspeak.captions import batching
    from filterspeak.captions.parser import CaptionParser

    def broken(self, tagged):
        raise RuntimeError("bug in the analysis")

    _force_pool(monkeypatch, batching, mp.get_context("fork"))  # forked workers inherit the patch
    monkeypatch.setattr(CaptionParser, "_analyse", broken)
    with pytest.raises(RuntimeError, match="bug in the analysis"):
        CaptionParser().parse_many(sample_captions(600), workers=2)


def test_parse_many_falls_back_when_the_pool_cannot_start(monkeypatch):
    from filterspeak.captions import batching
    from filterspeak.captions.parser import CaptionParser

    texts = sample_captions(600)
    serial = CaptionParser().parse_many(texts)

    class NoPool:
        def get_start_method(self):
            return "fork"

        def Pool(self, *args, **kwargs):
            raise OSError("no semaphores here")

    monkeypatch.setattr(batching, "mp_context", NoPool)
    monkeypatch.setattr(batching, "resolve_workers", lambda workers, n: 2)
    parser = CaptionParser()
    assert parser.parse_many(texts, workers=2) == serial
    run = parser.last_run
    assert run.mode == "in-process" and run.workers == 1 and run.worker_pids == ()
    assert run.reason == "process pool could not start (OSError: no semaphores here)"

    def no_multiprocessing():
        raise ImportError("no _multiprocessing")

    monkeypatch.setattr(batching, "mp_context", no_multiprocessing)
    parser = CaptionParser()
    assert parser.parse_many(texts, workers=2) == serial
    assert parser.last_run.mode == "in-process"
    assert parser.last_run.reason == "no multiprocessing (ImportError: no _multiprocessing)"


def test_spawned_workers_only_for_large_inputs(monkeypatch):
    """In a multi-threaded process (a Prefect worker) the pool is spawned, which costs an NLTK
    load per worker: inputs up to SPAWN_MIN_SENTENCES stay in-process."""
    from filterspeak.captions import batching
    from filterspeak.captions.parser import CaptionParser

    class SpawnOnly:
        def get_start_method(self):
            return "spawn"

        def Pool(self, *args, **kwargs):
            raise AssertionError("a pool was started for a small input")

    texts = sample_captions(600)
    monkeypatch.setattr(batching, "mp_context", SpawnOnly)
    monkeypatch.setattr(batching, "resolve_workers", lambda workers, n: 2)
    parser = CaptionParser()
    assert parser.parse_many(texts, workers=2) == CaptionParser().parse_many(texts)
    assert parser.last_run.mode == "in-process"
    assert parser.last_run.reason == (
        f"{parser.last_run.sentences} sentences: too few for spawned workers (more than {batching.SPAWN_MIN_SENTENCES})"
    )


def test_resolve_workers():
    from filterspeak.captions.batching import PARALLEL_MIN_SENTENCES, resolve_workers

    assert resolve_workers(2, PARALLEL_MIN_SENTENCES) == 1  # small inputs stay in-process
    assert resolve_workers(2, 40_000) == 2
    assert resolve_workers(1, 40_000) == 1
    assert resolve_workers(None, 40_000) >= 1
    assert resolve_workers(8, 6_000) == 6  # at least ~1,000 sentences per worker
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers must be None or an integer >= 1"):
            resolve_workers(bad, 40_000)


def test_parser_config_pickles():
    import pickle

    from filterspeak.captions.parser import ParserConfig

    for config in (ParserConfig(), ParserConfig(synonyms={"bill": "beak"}, stop_nouns={"bird"}, stop_modifiers=(), negation="mark")):
        copy = pickle.loads(pickle.dumps(config))
        assert copy == config and hash(copy) == hash(config)
        assert copy.to_dict() == config.to_dict()


def test_spawned_workers_give_the_same_output(monkeypatch):
    """The spawn start method (used in multi-threaded processes): workers load the NLTK data
    themselves (~3 s) and return the same phrases."""
    import multiprocessing as mp

    from filterspeak.captions import batching
    from filterspeak.captions.parser import CaptionParser, ParserConfig

    texts = sample_captions(1500)
    config = ParserConfig(negation="mark")
    serial = CaptionParser(config).parse_many(texts)
    _force_pool(monkeypatch, batching, mp.get_context("spawn"))
    monkeypatch.setattr(batching, "SPAWN_MIN_SENTENCES", 100)
    parser = CaptionParser(config)
    assert parser.parse_many(texts, workers=2) == serial
    assert _ran_in_worker_processes(parser.last_run), parser.last_run  # no in-process fallback
