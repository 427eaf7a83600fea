"""`filterspeak captions parse|vocab`: inspect what the caption parser extracts from a file.

Wiring (in ``flows/cli.py``)::

    from filterspeak.flows.captions_cli import add_captions_commands, run_captions
    add_captions_commands(commands)          # `commands` = the top-level subparsers
    handlers["captions"] = run_captions

Both commands read the file with :func:`filterspeak.captions.sources.read_captions`, clean it
with :func:`filterspeak.captions.cleaning.clean_captions` (skipped captions are listed on
stderr with their reasons) and parse with the default :class:`CaptionParser` settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import TextIO

__all__ = ["add_captions_commands", "run_captions", "run_captions_parse", "run_captions_vocab"]

_MAX_ERRORS_SHOWN = 20


def _formats() -> tuple[str, ...]:
    from filterspeak.captions.sources import FORMATS

    return FORMATS


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return number


def add_captions_commands(subparsers) -> argparse.ArgumentParser:
    """Add ``captions parse`` and ``captions vocab`` to a top-level ``add_subparsers()`` object.
    Each leaf parser sets ``handler`` (the function to call with the parsed namespace)."""
    formats = _formats()
    captions = subparsers.add_parser(
        "captions",
        help="inspect caption parsing: phrases per caption, or the vocabulary",
        description="Read a caption file, show the attribute phrases the parser extracts.",
    )
    commands = captions.add_subparsers(dest="captions_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help="caption file (for --format cub: the folder with text_c10/)")
        p.add_argument("--format", required=True, choices=formats, help="caption file layout")
        p.add_argument(
            "--negation",
            choices=["drop", "mark"],
            default="drop",
            help="negated phrases ('no wingbars'): drop them (default) or show them marked 'not ...'",
        )
        p.add_argument("--json", action="store_true", help="one JSON object per line")

    parse = commands.add_parser("parse", help="print each caption and its attribute phrases")
    common(parse)
    parse.add_argument("--limit", type=_non_negative_int, default=None, help="parse only the first N usable captions")
    parse.set_defaults(handler=run_captions_parse)

    vocab = commands.add_parser("vocab", help="print the attribute vocabulary with document frequencies (images whose captions mention it)")
    common(vocab)
    vocab.add_argument("--min-df", type=_positive_int, default=5, help="keep phrases mentioned for at least this many images (default: 5)")
    vocab.add_argument("--max-size", type=_non_negative_int, default=None, help="keep at most this many phrases (the most frequent)")
    vocab.set_defaults(handler=run_captions_vocab)
    return captions


def run_captions(args: argparse.Namespace) -> int:
    """Dispatch ``filterspeak captions …`` to its sub-command handler."""
    handler = getattr(args, "handler", None)
    if handler is None:
        handler = {"parse": run_captions_parse, "vocab": run_captions_vocab}[args.captions_command]
    return handler(args)


def _load(args: argparse.Namespace, err: TextIO):
    """(usable captions, parser) after reading and cleaning; reports skipped rows on ``err``."""
    from filterspeak.captions.cleaning import clean_captions
    from filterspeak.captions.parser import CaptionParser, ParserConfig
    from filterspeak.captions.sources import read_captions

    frame, read_errors = read_captions(args.file, args.format)
    usable, clean_errors = clean_captions(frame)
    errors = [*read_errors, *clean_errors]
    if errors:
        counts = Counter(e["reason"] for e in errors)
        summary = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
        total = len(frame) + len(read_errors)  # records read, usable or not
        print(f"skipped {len(errors)} of {total} captions: {summary}", file=err)
        for e in errors[:_MAX_ERRORS_SHOWN]:
            print(f"  {e['item']}: {e['reason']}", file=err)
        if len(errors) > _MAX_ERRORS_SHOWN:
            print(f"  ... and {len(errors) - _MAX_ERRORS_SHOWN} more", file=err)
    parser = CaptionParser(ParserConfig(negation=args.negation))
    return usable, parser


def _phrase_text(phrase) -> str:
    return ("not " if phrase.negated else "") + phrase.text


def run_captions_parse(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``filterspeak captions parse FILE --format F [--json] [--limit N]``."""
    out = out or sys.stdout
    err = err or sys.stderr
    usable, parser = _load(args, err)
    if args.limit is not None:
        usable = usable.head(args.limit)
    texts = usable["text"].tolist()
    parsed = parser.parse_many(texts, progress=err.isatty() and len(texts) > 20_000, workers=None)
    for key, line, text, phrases in zip(usable["image_key"], usable["source_line"], texts, parsed):
        if args.json:
            record = {"image": key, "line": int(line), "text": text, "phrases": [p.text for p in phrases if not p.negated]}
            if args.negation == "mark":
                record["negated"] = [p.text for p in phrases if p.negated]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            shown = "; ".join(_phrase_text(p) for p in phrases) or "(none)"
            out.write(f"{key}\t{text}\n    -> {shown}\n")
    return 0


def run_captions_vocab(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``filterspeak captions vocab FILE --format F [--min-df N] [--max-size N] [--json]``:
    one line per phrase, most frequent first: ``phrase<TAB>document frequency``."""
    from filterspeak.captions.vocabulary import build_vocabulary, phrase_rows

    out = out or sys.stdout
    err = err or sys.stderr
    usable, parser = _load(args, err)
    texts = usable["text"].tolist()
    parsed = parser.parse_many(texts, progress=err.isatty() and len(texts) > 20_000, workers=None)
    image_phrases = phrase_rows(usable["image_key"].tolist(), parsed)
    vocab = build_vocabulary(image_phrases, min_df=args.min_df, max_size=args.max_size)
    if vocab.empty:
        distinct = image_phrases["phrase"].nunique()
        print(f"no phrase is mentioned for at least {args.min_df} images ({distinct} distinct phrases); try a lower --min-df", file=err)
    for row in vocab.itertuples(index=False):
        if args.json:
            out.write(
                json.dumps(
                    {
                        "attribute_id": int(row.attribute_id),
                        "phrase": row.phrase,
                        "modifier": row.modifier,
                        "noun": row.noun,
                        "document_frequency": int(row.document_frequency),
                    }
                )
                + "\n"
            )
        else:
            out.write(f"{row.phrase}\t{row.document_frequency}\n")
    return 0
