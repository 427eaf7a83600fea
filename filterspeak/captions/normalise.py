"""Caption text → sentences → token lists: the parser's first two steps (docs/captions.md,
"Parser pipeline"). Pure string work, no NLTK; a sentence is cut into pieces of at most
:data:`MAX_TOKENS` tokens so that pathological input stays linear in the later steps."""

from __future__ import annotations

import html
import math
import numbers
import re
import unicodedata

from filterspeak.captions import lexicon as lx

__all__ = ["MAX_TOKENS", "NotText", "caption_sentences", "normalise", "split_sentences", "tokenize"]

#: Longest token sequence chunked at once; longer sentences are cut into pieces.
MAX_TOKENS = 80

_TAG_RE = re.compile(r"<[^<>]{0,300}>")
_SPACE_RE = re.compile(r"\s+")
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|[\r\n]+")
_TOKEN_RE = re.compile(r"[^\W\d_]+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+(?:-\w+)*|[^\w\s]", re.UNICODE)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " "})
# Where a long sentence may be cut (the last one in the window wins).
_CUT_TOKENS = frozenset({",", ":", "-"})


class NotText(TypeError):
    """A caption that is neither a string, a number nor missing (bytes, a list, ...): the parser
    does not guess how to read it and reports it as a failure instead."""


def normalise(text: object) -> str:
    """Lower-cased plain text: HTML tags stripped and entities unescaped, NFKC, straight quotes.

    ``None`` and NaN (pandas' missing value) are empty; numbers are read as their digits.
    Anything else that is not a ``str`` raises :class:`NotText`.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        if isinstance(text, float) and math.isnan(text):  # pandas' missing value
            return ""
        if not isinstance(text, numbers.Number):
            raise NotText(f"not text ({type(text).__name__})")
        text = str(text)
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return text.lower()


def split_sentences(text: str) -> list[str]:
    """Sentences on ``. ! ? ;`` and line breaks (a regex: no punkt model needed), spaces squeezed."""
    out = []
    for s in _SENT_SPLIT_RE.split(text):
        s = _SPACE_RE.sub(" ", s).strip()
        if s:
            out.append(s)
    return out


def tokenize(sentence: str) -> list[list[str]]:
    """Tokens of one sentence, cut into pieces of at most MAX_TOKENS.

    Words keep inner hyphens ('blue-grey'), "'s" and "n't" are split off as in the Penn
    Treebank, and hyphenated colour lists are split ('black-and-white' → black and white).
    """
    tokens: list[str] = []
    for tok in _TOKEN_RE.findall(sentence):
        parts = lx.split_colour_list(tok) if "-" in tok else None
        if parts:
            tokens.extend(parts)
        else:
            tokens.append(tok)
    pieces = []
    while len(tokens) > MAX_TOKENS:
        window = tokens[:MAX_TOKENS]
        cut = max((i for i, t in enumerate(window) if t in _CUT_TOKENS), default=-1) + 1
        if cut < MAX_TOKENS // 4:
            cut = MAX_TOKENS
        pieces.append(tokens[:cut])
        tokens = tokens[cut:]
    if tokens:
        pieces.append(tokens)
    return pieces


def caption_sentences(texts) -> tuple[list[list[str]], dict[int, str]]:
    """Normalised sentences of each caption, and ``{index: reason}`` for the captions that are
    not text (:class:`NotText`; they have no sentences)."""
    per_text: list[list[str]] = []
    not_text: dict[int, str] = {}
    for index, text in enumerate(texts):
        try:
            per_text.append(split_sentences(normalise(text)))
        except NotText as exc:
            per_text.append([])
            not_text[index] = str(exc)
    return per_text, not_text
