"""Caption parsing speed: the pipeline vs a naive NLTK loop, in one run.

    python benchmarks/caption_parsing.py [--file Flickr8k.token.txt] [--workers 2]
                                         [--naive-sample 5000] [--seed 0]

Prints, for the same captions (default: the 40,450 Flickr8k captions in ../shared):

1. **whole file**: wall time from a cold start (imports, NLTK data loading, reading the file,
   cleaning, parsing every caption with ``CaptionParser.parse_many(workers=W)``), and the
   parse alone in sentences/s;
2. **naive loop** on a random sample of ``--naive-sample`` sentences: ``nltk.pos_tag`` one
   sentence at a time, on the same tokens (the parser's tokenizer), tagging only;
3. the pipeline on that same sample in one process, with the fast engine and with NLTK's own
   tagger/chunker (``engine="nltk"``), both from an empty cache;
4. the speed-up: whole-file pipeline sentences/s over naive-loop sentences/s.

Run it on an otherwise idle machine: other processes on the same cores slow the pool.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--file",
        type=Path,
        default=SHARED / "data" / "flickr8k" / "Flickr8k.token.txt",
        help="a Flickr8k-format token file (default: ../shared's Flickr8k)",
    )
    ap.add_argument("--workers", type=int, default=2, help="processes for the pipeline (default 2)")
    ap.add_argument("--naive-sample", type=int, default=5000, help="sentences timed with the naive loop (default 5000)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if not args.file.exists():
        print(f"caption file not found: {args.file}", file=sys.stderr)
        return 2

    # ---- 1. whole file, cold: imports + NLTK data + read + clean + parse
    from filterspeak.captions.cleaning import clean_captions
    from filterspeak.captions.parser import CaptionParser, _normalise, _split_sentences, _tokenize
    from filterspeak.captions.sources import read_captions

    t_imports = time.perf_counter()
    frame, read_errors = read_captions(args.file, "flickr8k")
    t_read = time.perf_counter()
    usable, clean_errors = clean_captions(frame)  # loads WordNet (shared with the parser)
    t_load = time.perf_counter()
    parser = CaptionParser()
    t_parse = time.perf_counter()
    parsed = parser.parse_many(usable["text"].tolist(), workers=args.workers)
    t_end = time.perf_counter()

    texts = usable["text"].tolist()
    sentences = [s for t in texts for s in _split_sentences(_normalise(t))]
    n_sent, n_unique = len(sentences), len(set(sentences))
    parse_s = t_end - t_parse
    pipeline_rate = n_sent / parse_s
    print(
        f"file: {args.file} ({len(frame)} captions read, {len(read_errors) + len(clean_errors)} "
        f"skipped, {n_sent} sentences, {n_unique} unique)"
    )
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(
        f"whole file, cold start: {t_end - T0:.1f} s wall (imports {t_imports - T0:.1f} s, "
        f"read {t_read - t_imports:.1f} s, clean incl. loading WordNet {t_load - t_read:.1f} s, "
        f"loading the tagger {t_parse - t_load:.1f} s, parse {parse_s:.1f} s)"
    )
    print(
        f"pipeline (parse_many, dedup + batches + fast engine, workers={args.workers}): "
        f"{pipeline_rate:,.0f} sentences/s; {sum(map(len, parsed))} phrases"
    )

    # ---- 2. naive loop on a sample: nltk.pos_tag one sentence at a time, same tokens
    import nltk

    sample = random.Random(args.seed).sample(sentences, min(args.naive_sample, n_sent))
    token_lists = [[tok for piece in _tokenize(s) for tok in piece] for s in sample]
    nltk.pos_tag(["warm", "up"])  # load NLTK's tagger outside the timing
    start = time.perf_counter()
    for tokens in token_lists:
        nltk.pos_tag(tokens)
    naive_s = time.perf_counter() - start
    naive_rate = len(sample) / naive_s
    print(f"naive loop (nltk.pos_tag per sentence, tagging only) on {len(sample)} sentences: {naive_rate:,.0f} sentences/s")

    # ---- 3. the pipeline on the same sample, one process, empty caches
    for engine in ("fast", "nltk"):
        p = CaptionParser(engine=engine)
        if engine == "fast":
            p._tagger._memo.clear()  # the process-wide tagger memo saw these sentences in step 1
        start = time.perf_counter()
        p.parse_many(sample, workers=1)
        rate = len(sample) / (time.perf_counter() - start)
        print(f"pipeline on the same sample, 1 process, engine={engine}: {rate:,.0f} sentences/s")

    # ---- 4. verdict
    speedup = pipeline_rate / naive_rate
    print(
        f"speed-up, pipeline (workers={args.workers}) over naive loop: {speedup:.1f}x "
        f"(target >= 2x); whole file {t_end - T0:.1f} s (target < 20 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
