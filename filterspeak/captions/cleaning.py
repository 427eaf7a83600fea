"""Bad caption text: what is repaired, what is skipped (with a reason), and image matching.

:func:`clean_captions` takes a caption frame (a ``text`` column; any other columns are kept) and
returns ``(usable, errors)``: the usable rows with their text cleaned, and one
``{"item", "reason"}`` dict per skipped row. It never raises on odd text.

Repaired (the caption is kept):

* HTML: ``<script>``/``<style>`` elements are removed with their content, other tags are
  stripped, entities unescaped (``<b>red</b> crown &amp; tail`` → ``red crown & tail``);
* emoji and other pictographic symbols (Unicode category ``So``, variation selectors, zero-width
  joiners, skin-tone modifiers) and control characters are removed;
* whitespace runs become one space, ends are trimmed.

Skipped, with the reason recorded:

======================================  ====================================================
``empty caption``                        nothing but whitespace (or no text at all)
``not text (<type>)``                    not a string or a number (bytes, a list, ...)
``only HTML markup``                     nothing left once the tags are stripped
``only emoji or symbols``                nothing left once emoji/symbols are removed
``caption longer than N characters``     more than ``max_chars`` (default 2,000) after cleaning
``not English``                          mostly non-ASCII letters, or fewer than half of its
                                         words are English words (see :func:`looks_english`)
======================================  ====================================================

Captions for images that are not in the dataset are the caller's to find, since only the caller
knows the image list: :func:`match_images` matches ``image_key`` against the known keys
(exactly, then by path suffix, then by unique file stem) and records the rest as
``caption for unknown image``.
"""

from __future__ import annotations

import html
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

import pandas as pd

from filterspeak.captions import lexicon as lx

__all__ = ["DEFAULT_MAX_CHARS", "ENGLISH_FUNCTION_WORDS", "clean_captions", "clean_text", "looks_english", "match_images"]

#: Captions longer than this (characters, after cleaning) are skipped.
DEFAULT_MAX_CHARS = 2000

_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]{0,500}>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"</?[A-Za-z!][^<>]{0,500}>")
_SPACE_RE = re.compile(r"\s+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# Format characters that belong to emoji sequences: ZWJ, variation selectors, tags, keycap.
_EMOJI_JOINERS = frozenset({"\u200d", "\ufe0e", "\ufe0f", "\u20e3"})

#: Closed-class English words: a caption made of these and lexicon words is English even where
#: WordNet (which has no function words) is not available.
ENGLISH_FUNCTION_WORDS = lx.word_set(
    """
    a an the this that these those its it it's his her their our your my some any no not
    and or but with without of in on at by for from to into onto over under above below near
    behind beside between through across along around up down out off while as is are was were
    be been being has have had does do did can could will would should may might there here
    he she they we you i who which what where when how very more most mostly has's
    """
)


def _strip_symbols(text: str) -> tuple[str, bool]:
    """Text without emoji/pictographic symbols and control characters; and whether any
    emoji/symbol was removed."""
    if text.isascii():  # no emoji possible: only control characters to drop
        return (_CONTROL_RE.sub("", text) if _CONTROL_RE.search(text) else text), False
    out = []
    removed = False
    for ch in text:
        if ch in _EMOJI_JOINERS or "\U0001f3fb" <= ch <= "\U0001f3ff" or "\U000e0020" <= ch <= "\U000e007f":
            removed = True
            continue
        cat = unicodedata.category(ch)
        if cat == "So" or cat == "Cs":
            removed = True
            continue
        if cat == "Cc" and ch not in "\t\n\r":
            continue
        out.append(ch)
    return "".join(out), removed


def clean_text(text: object) -> tuple[str, str | None]:
    """(cleaned text, reason to skip or None) for one caption; never raises.

    ``None`` and NaN are empty captions and numbers are read as their digits; any other object
    that is not a ``str`` (bytes, a list, ...) is skipped as ``not text (<type>)``.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return "", "empty caption"
    if not isinstance(text, str):
        if not isinstance(text, numbers.Number):
            return "", f"not text ({type(text).__name__})"
        text = str(text)
    if not text.strip():
        return "", "empty caption"
    had_markup = False
    if "<" in text or "&" in text:
        stripped = _TAG_RE.sub(" ", _SCRIPT_RE.sub(" ", text))
        had_markup = stripped != text
        text = html.unescape(stripped)
        if not text.strip():
            return "", "only HTML markup"
    text, had_symbols = _strip_symbols(text)
    text = _SPACE_RE.sub(" ", text).strip()
    if not text:
        if had_symbols:
            return "", "only emoji or symbols"
        return "", "only HTML markup" if had_markup else "empty caption"
    return text, None


class _EnglishVocabulary:
    """Is a word English? Function words, the caption lexicon, then WordNet (when loadable)."""

    def __init__(self):
        self._lemmatizer = None
        self._tried = False
        self._known: dict[str, bool] = {}
        self._lexicon = (
            ENGLISH_FUNCTION_WORDS
            | lx.COLOURS
            | frozenset(lx.MODIFIER_CANON)
            | lx.PART_WORDS
            | lx.DEFAULT_STOP_NOUNS
            | lx.INTENSIFIERS
            | lx.SHADES
        )

    def _wordnet(self):
        if not self._tried:
            self._tried = True
            from filterspeak.captions import nltk_resources

            try:
                self._lemmatizer = nltk_resources.get_lemmatizer()
            except nltk_resources.NltkDataMissing:  # no WordNet: function words and lexicon only
                self._lemmatizer = None
        return self._lemmatizer

    @property
    def has_wordnet(self) -> bool:
        return self._wordnet() is not None

    def __contains__(self, word: str) -> bool:
        hit = self._known.get(word)
        if hit is None:
            hit = self._lookup(word)
            if len(self._known) < 200_000:
                self._known[word] = hit
        return hit

    def _lookup(self, word: str) -> bool:
        if word in self._lexicon or lx.canonical_colour(word) is not None:
            return True
        lem = self._wordnet()
        if lem is None or not word.isascii():
            return False
        return any(lem.known(word, pos) for pos in ("n", "v", "a", "r"))


_ENGLISH = _EnglishVocabulary()


def looks_english(text: str) -> bool:
    """Heuristic: at most half of the letters are non-ASCII, and at least half of the words
    (of two letters or more) are English words (function words, lexicon words or WordNet
    entries). Without WordNet, one function or lexicon word suffices."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    if sum(not ch.isascii() for ch in letters) > len(letters) / 2:
        return False
    words = [w.lower() for w in _WORD_RE.findall(text) if len(w) >= 2 or w.lower() in ("a", "i")]
    if not words:
        return False
    known = sum(w in _ENGLISH for w in words)
    if not _ENGLISH.has_wordnet:
        return known >= 1
    return known >= len(words) / 2


def _item(frame: pd.DataFrame, pos: int) -> str:
    """How an error names the row at position ``pos``."""
    columns = frame.columns
    if "caption_id" in columns:
        return f"caption {frame['caption_id'].iat[pos]}"
    if "source_line" in columns:
        key = frame["image_key"].iat[pos] if "image_key" in columns else None
        line = f"line {frame['source_line'].iat[pos]}"
        return line + (f" ({key})" if key is not None else "")
    return f"row {frame.index[pos]}"


def clean_captions(frame: pd.DataFrame, max_chars: int = DEFAULT_MAX_CHARS, check_english: bool = True) -> tuple[pd.DataFrame, list[dict]]:
    """(usable rows with cleaned ``text``, error rows). The usable frame keeps every column and
    the original index; see the module doc for what is repaired and what is skipped."""
    if not isinstance(frame, pd.DataFrame) or "text" not in frame.columns:
        raise ValueError("clean_captions needs a DataFrame with a 'text' column")
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars must be an integer >= 1, got {max_chars!r}")
    keep: list = []
    texts: list[str] = []
    errors: list[dict] = []
    english_cache: dict[str, bool] = {}
    for pos, raw in enumerate(frame["text"].tolist()):
        text, reason = clean_text(raw)
        if reason is None and len(text) > max_chars:
            reason = f"caption longer than {max_chars} characters"
        if reason is None and check_english:
            english = english_cache.get(text)
            if english is None:
                english = looks_english(text)
                if len(english_cache) < 100_000:
                    english_cache[text] = english
            if not english:
                reason = "not English"
        if reason is not None:
            errors.append({"item": _item(frame, pos), "reason": reason})
            continue
        keep.append(pos)
        texts.append(text)
    usable = frame.iloc[keep].copy()
    usable["text"] = pd.Series(texts, index=usable.index, dtype=object)
    return usable, errors


def _normalise_key(key: str) -> str:
    key = str(key).strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key


def match_images(captions: pd.DataFrame, known_keys: Iterable[str] | Mapping[str, object]) -> tuple[pd.DataFrame, list[dict]]:
    """Match each caption's ``image_key`` to the dataset's images.

    ``known_keys``: the dataset's image keys (relative paths or ids), or a mapping from key to
    image id. A caption matches a known key that is equal to its ``image_key`` (after trimming,
    ``\\`` → ``/`` and dropping a leading ``./``); else one that ends with ``/<image_key>`` or
    that ``image_key`` ends with (``val2014/x.jpg`` ~ ``x.jpg``); else the only known key with
    the same file stem (``x.jpg`` ~ ``images/x.png``). Ambiguous or missing matches are errors
    ``caption for unknown image``.

    Returns ``(matched, errors)``: ``matched`` is ``captions``' matched rows with an ``image_id``
    column (the mapped id, or the matched known key when ``known_keys`` is not a mapping).
    """
    if "image_key" not in captions.columns:
        raise ValueError("match_images needs a captions frame with an 'image_key' column")
    mapping = {str(k): v for k, v in known_keys.items()} if isinstance(known_keys, Mapping) else {str(k): str(k) for k in known_keys}
    exact: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    for key in mapping:
        norm = _normalise_key(key)
        exact.setdefault(norm, key)
        path = PurePosixPath(norm)
        by_name.setdefault(path.name, []).append(key)
        by_stem.setdefault(path.stem, []).append(key)

    def resolve(image_key: str) -> str | None:
        norm = _normalise_key(image_key)
        if norm in exact:
            return exact[norm]
        path = PurePosixPath(norm)
        # known 'val2014/x.jpg' for caption 'x.jpg', or caption 'a/b/x.jpg' for known 'b/x.jpg'
        suffix = [k for k in by_name.get(path.name, ()) if _normalise_key(k).endswith("/" + norm) or norm.endswith("/" + _normalise_key(k))]
        if len(suffix) == 1:
            return suffix[0]
        if len(suffix) > 1:
            return None
        stem = by_stem.get(path.stem, [])
        return stem[0] if len(stem) == 1 else None

    cache: dict[str, str | None] = {}
    ids: list = []
    keep: list = []
    errors: list[dict] = []
    lines = captions["source_line"].tolist() if "source_line" in captions.columns else None
    for pos, image_key in enumerate(captions["image_key"].tolist()):
        key = "" if image_key is None or (isinstance(image_key, float) and math.isnan(image_key)) else str(image_key)
        if key not in cache:
            cache[key] = resolve(key) if key else None
        hit = cache[key]
        if hit is None:
            item = f"image {key!r}" + (f" (line {lines[pos]})" if lines is not None else "")
            errors.append({"item": item, "reason": "caption for unknown image"})
            continue
        keep.append(pos)
        ids.append(mapping[hit])
    matched = captions.iloc[keep].copy()
    matched["image_id"] = pd.Series(ids, index=matched.index, dtype=object)
    if ids and all(isinstance(i, int) for i in ids):
        matched["image_id"] = matched["image_id"].astype("int64")
    return matched, errors
