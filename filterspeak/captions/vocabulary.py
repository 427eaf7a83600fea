"""Attribute vocabulary from parsed caption phrases, and p(a|x) per image.

Input everywhere is an *image-phrase* frame: one row per phrase occurrence, columns
``image_id, phrase, modifier, noun`` (negated phrases already removed; if a boolean ``negated``
column is present its true rows are dropped here too). ``image_id`` may be any hashable dtype
(integer ids in the pipeline); it is passed through unchanged.

* :func:`build_vocabulary` keeps the phrases that occur in the captions of at least ``min_df``
  distinct images (document frequency = number of distinct ``image_id``), ordered by document
  frequency descending, then phrase ascending — so ``attribute_id`` (0..V-1) is deterministic
  for a given input — and cut to ``max_size`` after ordering.
* :func:`image_attribute_counts` turns the occurrences into p(a|x) (DESIGN "Math" 2):
  ``weighting="counts"``: count of a in the captions of x / total in-vocabulary count of x;
  ``weighting="presence"``: 1 / number of distinct in-vocabulary attributes of x.
  Each image's probabilities sum to 1; images with no in-vocabulary phrase are absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["IMAGE_PHRASE_COLUMNS", "VOCABULARY_COLUMNS", "build_vocabulary", "image_attribute_counts", "phrase_rows"]

IMAGE_PHRASE_COLUMNS = ("image_id", "phrase", "modifier", "noun")
VOCABULARY_COLUMNS = ("attribute_id", "phrase", "modifier", "noun", "document_frequency")
_COUNT_COLUMNS = ("image_id", "attribute_id", "count", "probability")


WEIGHTINGS: tuple[str, ...] = ("counts", "presence")  # p(a|x) from caption counts or from presence


def _check_columns(frame: pd.DataFrame, required, what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; it has {list(frame.columns)}")


def _clean_phrases(image_phrases: pd.DataFrame) -> pd.DataFrame:
    _check_columns(image_phrases, IMAGE_PHRASE_COLUMNS, "image_phrases")
    df = image_phrases
    if "negated" in df.columns:
        df = df[~df["negated"].fillna(False).astype(bool)]
    df = df.loc[:, list(IMAGE_PHRASE_COLUMNS)]
    df = df[df["image_id"].notna() & df["phrase"].notna()]
    return df


def _empty_vocabulary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "attribute_id": pd.Series([], dtype="int64"),
            "phrase": pd.Series([], dtype=str),
            "modifier": pd.Series([], dtype=str),
            "noun": pd.Series([], dtype=str),
            "document_frequency": pd.Series([], dtype="int64"),
        }
    )


def build_vocabulary(image_phrases: pd.DataFrame, min_df: int = 5, max_size: int | None = None) -> pd.DataFrame:
    """The attribute vocabulary: phrases with document frequency >= ``min_df``.

    Returns columns ``attribute_id`` (int64, 0..V-1), ``phrase``, ``modifier``, ``noun``,
    ``document_frequency`` (int64, distinct images), ordered by ``attribute_id``: document
    frequency descending, then phrase ascending. ``max_size`` (if given) keeps the first
    ``max_size`` rows of that order. When one phrase arrives with several (modifier, noun)
    splits, the most frequent split wins (ties: smallest modifier).
    """
    if isinstance(min_df, bool) or not isinstance(min_df, (int, np.integer)) or min_df < 1:
        raise ValueError(f"min_df must be an integer >= 1, got {min_df!r}")
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) or max_size < 0):
        raise ValueError(f"max_size must be None or an integer >= 0, got {max_size!r}")
    df = _clean_phrases(image_phrases)
    if df.empty:
        return _empty_vocabulary()

    dfreq = df.groupby("phrase", sort=False)["image_id"].nunique()
    dfreq = dfreq[dfreq >= min_df]
    if dfreq.empty:
        return _empty_vocabulary()

    split = (
        df[df["phrase"].isin(dfreq.index)]
        .groupby(["phrase", "modifier", "noun"], sort=False, dropna=False)
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["phrase", "n", "modifier", "noun"], ascending=[True, False, True, True], kind="mergesort")
        .drop_duplicates("phrase", keep="first")
        .set_index("phrase")
    )
    vocab = pd.DataFrame({"phrase": dfreq.index.to_numpy(), "document_frequency": dfreq.to_numpy().astype("int64")})
    vocab = vocab.sort_values(["document_frequency", "phrase"], ascending=[False, True], kind="mergesort")
    if max_size is not None:
        vocab = vocab.head(int(max_size))
    vocab = vocab.reset_index(drop=True)
    vocab["modifier"] = split.loc[vocab["phrase"], "modifier"].to_numpy()
    vocab["noun"] = split.loc[vocab["phrase"], "noun"].to_numpy()
    vocab.insert(0, "attribute_id", np.arange(len(vocab), dtype="int64"))
    return vocab.loc[:, list(VOCABULARY_COLUMNS)].astype(
        {"attribute_id": "int64", "phrase": str, "modifier": str, "noun": str, "document_frequency": "int64"}
    )


def image_attribute_counts(
    image_phrases: pd.DataFrame, vocabulary: pd.DataFrame, weighting: Literal["counts", "presence"] = "counts"
) -> pd.DataFrame:
    """p(a|x) for every image with at least one in-vocabulary phrase.

    Returns ``image_id, attribute_id`` (int64), ``count`` (int64: occurrences of the attribute
    in the image's captions) and ``probability`` (float64; sums to 1 per image), sorted by
    image_id then attribute_id.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    _check_columns(vocabulary, ("attribute_id", "phrase"), "vocabulary")
    df = _clean_phrases(image_phrases)
    lookup = vocabulary.loc[:, ["phrase", "attribute_id"]].drop_duplicates("phrase")
    merged = df.loc[:, ["image_id", "phrase"]].merge(lookup, on="phrase", how="inner")
    if merged.empty:
        return pd.DataFrame(
            {
                "image_id": pd.Series([], dtype=df["image_id"].dtype),
                "attribute_id": pd.Series([], dtype="int64"),
                "count": pd.Series([], dtype="int64"),
                "probability": pd.Series([], dtype="float64"),
            }
        )
    counts = merged.groupby(["image_id", "attribute_id"], sort=True).size().rename("count").reset_index()
    per_image = counts.groupby("image_id", sort=False)
    denom = per_image["count"].transform("sum") if weighting == "counts" else per_image["count"].transform("size")
    counts["probability"] = (counts["count"] / denom).astype("float64") if weighting == "counts" else (1.0 / denom).astype("float64")
    counts = counts.astype({"attribute_id": "int64", "count": "int64"})
    return counts.loc[:, list(_COUNT_COLUMNS)].reset_index(drop=True)


def phrase_rows(image_ids: Sequence, parsed: Sequence[Sequence]) -> pd.DataFrame:
    """One row per (image, extracted phrase) — the input of `build_vocabulary` — from parallel
    sequences of image ids and `CaptionParser.parse_many` results; negated phrases are left out."""
    records = [
        (image_id, phrase.text, phrase.modifier, phrase.noun)
        for image_id, phrases in zip(image_ids, parsed)
        for phrase in phrases
        if not phrase.negated
    ]
    return pd.DataFrame(records, columns=list(IMAGE_PHRASE_COLUMNS))
