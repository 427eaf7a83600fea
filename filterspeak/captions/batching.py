"""Running :meth:`CaptionParser.parse_many`'s new sentences: in this process, or split across a
process pool for large inputs; plus the bounded sentence cache. How the last batch ran is
recorded in a :class:`BatchRun` (``CaptionParser.last_run``), so callers and tests can see
whether worker processes really did the work."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from filterspeak.captions.results import Phrase
from filterspeak.progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from filterspeak.captions.parser import CaptionParser

__all__ = [
    "PARALLEL_MIN_SENTENCES",
    "SPAWN_MIN_SENTENCES",
    "BatchRun",
    "SentenceCache",
    "SentenceResult",
    "mp_context",
    "parse_sentences",
    "resolve_workers",
]

log = logging.getLogger(__name__)

#: Below this many sentences to parse, ``parse_many`` stays in one process whatever ``workers``.
PARALLEL_MIN_SENTENCES = 5000
#: ... and this many when the workers must be spawned (they load the NLTK data, ~3 s each).
SPAWN_MIN_SENTENCES = 30_000
#: Sentences tokenised and tagged together.
TAG_BATCH = 2000
_CACHE_MAX = 200_000

#: A sentence's phrases, and why (part of) it could not be parsed (None when it could).
SentenceResult = tuple[tuple[Phrase, ...], "str | None"]


@dataclass(frozen=True)
class BatchRun:
    """How ``parse_many`` parsed its new sentences.

    ``mode``: ``"pool"`` (worker processes), ``"in-process"``, or ``"cached"`` (nothing new).
    ``workers``: processes that parsed; ``worker_pids``: the pool processes that returned
    results (empty unless ``"pool"``); ``reason``: why a pool that ``workers`` asked for was
    not used (no multiprocessing, it could not start, too small an input for spawned workers).
    """

    mode: Literal["pool", "in-process", "cached"]
    workers: int = 1
    sentences: int = 0
    worker_pids: tuple[int, ...] = ()
    reason: str | None = None


class SentenceCache:
    """Sentence → :data:`SentenceResult`, bounded: when full, the oldest quarter is dropped."""

    def __init__(self, max_size: int = _CACHE_MAX):
        self.max_size = max_size
        self._data: dict[str, SentenceResult] = {}

    def __len__(self) -> int:
        return len(self._data)

    def get(self, sentence: str) -> SentenceResult | None:
        return self._data.get(sentence)

    def store(self, sentence: str, result: SentenceResult) -> None:
        if len(self._data) >= self.max_size:
            for key in list(self._data)[: self.max_size // 4]:  # dicts keep insertion order
                del self._data[key]
        self._data[sentence] = result


# ------------------------------------------------------------------------------ choosing a mode
def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity on this platform
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | None, n_sentences: int) -> int:
    """Processes for ``n_sentences`` new sentences: 1 up to PARALLEL_MIN_SENTENCES, else at most
    ``workers`` (``None``: one per usable CPU) with at least ~1,000 sentences each."""
    if workers is None:
        workers = usable_cpus()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be None or an integer >= 1, got {workers!r}")
    if n_sentences <= PARALLEL_MIN_SENTENCES:
        return 1
    return min(workers, max(1, n_sentences // 1000))


def mp_context():
    """``fork`` (workers inherit the loaded tagger) when this process has a single thread;
    otherwise ``spawn``, because forking a multi-threaded process (a Prefect worker) can
    deadlock. Spawned workers load the NLTK data once each. ImportError without multiprocessing."""
    import multiprocessing as mp
    import threading

    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def parse_sentences(
    parser: CaptionParser, sentences: list[str], progress: bool, workers: int | None
) -> tuple[dict[str, SentenceResult], BatchRun]:
    """Results for ``sentences`` (distinct, not cached) and how they were computed: in a pool
    when ``workers`` and the input size call for one and one can start, else in this process."""
    n_workers = resolve_workers(workers, len(sentences))
    if n_workers == 1:
        return _run_in_process(parser, sentences, progress, None)
    try:
        context = mp_context()
    except ImportError as exc:  # a Python built without _multiprocessing
        log.warning("no multiprocessing here (%s); parsing in this process", exc)
        return _run_in_process(parser, sentences, progress, f"no multiprocessing ({type(exc).__name__}: {exc})")
    if context.get_start_method() != "fork" and len(sentences) <= SPAWN_MIN_SENTENCES:
        # spawned workers load the NLTK data (~3 s each): not worth it here
        reason = f"{len(sentences)} sentences: too few for spawned workers (more than {SPAWN_MIN_SENTENCES})"
        return _run_in_process(parser, sentences, progress, reason)
    return _run_in_pool(parser, sentences, n_workers, progress, context)


# ----------------------------------------------------------------------------------- running
def _run_in_process(
    parser: CaptionParser, sentences: list[str], progress: bool, reason: str | None
) -> tuple[dict[str, SentenceResult], BatchRun]:
    out: dict[str, SentenceResult] = {}
    with Progress(len(sentences), "parsing captions", unit="sent", enabled=progress) as bar:
        for start in range(0, len(sentences), TAG_BATCH):
            batch = sentences[start : start + TAG_BATCH]
            out.update(zip(batch, parser.parse_batch(batch)))
            bar.update(len(batch))
    return out, BatchRun("in-process", 1, len(sentences), (), reason)


def _run_in_pool(
    parser: CaptionParser, sentences: list[str], n_workers: int, progress: bool, context
) -> tuple[dict[str, SentenceResult], BatchRun]:
    """Batches across ``n_workers`` processes, each with its own parser. Falls back to this
    process only when the pool cannot start (no semaphores, no /dev/shm, fork refused); an
    error inside a worker is a bug and propagates."""
    size = max(500, min(TAG_BATCH, -(-len(sentences) // (4 * n_workers))))
    batches = [sentences[i : i + size] for i in range(0, len(sentences), size)]
    try:
        pool = context.Pool(n_workers, initializer=_init_worker, initargs=(parser.config, parser.engine))
    except (OSError, ImportError) as exc:  # ImportError: a platform without working sem_open
        log.warning("could not start %d caption parsing processes (%s); parsing in this process", n_workers, exc)
        return _run_in_process(parser, sentences, progress, f"process pool could not start ({type(exc).__name__}: {exc})")
    out: dict[str, SentenceResult] = {}
    pids: set[int] = set()
    with Progress(len(sentences), f"parsing captions ({n_workers} processes)", unit="sent", enabled=progress) as bar, pool:
        for batch, (pid, results) in zip(batches, pool.imap(_worker_parse, batches)):
            out.update(zip(batch, results))
            pids.add(pid)
            bar.update(len(batch))
    return out, BatchRun("pool", n_workers, len(sentences), tuple(sorted(pids)))


_WORKER_PARSER: CaptionParser | None = None


def _init_worker(config, engine: str) -> None:
    global _WORKER_PARSER
    from filterspeak.captions.parser import CaptionParser

    _WORKER_PARSER = CaptionParser(config, engine=engine)


def _worker_parse(batch: list[str]) -> tuple[int, list[SentenceResult]]:
    if _WORKER_PARSER is None:
        raise RuntimeError("caption parsing worker not initialised")
    return os.getpid(), _WORKER_PARSER.parse_batch(batch)
