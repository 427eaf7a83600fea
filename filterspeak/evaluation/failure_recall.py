"""Failure analysis against planted confusions: does it name the attribute that tells twins apart?

`--confusable-pairs N` adds twin species, each one attribute away from a base species. For each
planted pair with at least `MIN_ERRORS` test confusions (either direction), the confusion with
more errors (base → twin on a tie) is looked up, and the pair is recalled when the planted
difference (the base's phrase or the twin's) is among its `TOP` distinguishing attributes.
The baseline is the same analysis with the vocabulary shuffled (the attribute words of p(a|x)
permuted): what ranking attributes by chance recalls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_ERRORS = 5
TOP = 3


@dataclass(frozen=True)
class FailureRecallResult:
    recall: float  # NaN when no planted pair has MIN_ERRORS confusions
    shuffled_recall: float
    pairs: list[dict] = field(default_factory=list)  # every planted pair, evaluated or not

    @property
    def evaluated(self) -> int:
        return sum(pair["evaluated"] for pair in self.pairs)


def dominant_direction(counts: dict[tuple[int, int], int], base: int, twin: int) -> tuple[int, int]:
    """(true, predicted) of the pair's confusion with more errors; base → twin on a tie."""
    return (twin, base) if counts.get((twin, base), 0) > counts.get((base, twin), 0) else (base, twin)


def failure_attribute_recall(
    planted: pd.DataFrame,
    counts: dict[tuple[int, int], int],
    ranked: Callable[[int, int, list[str]], list[str]],
    phrases: list[str],
    shuffles: int = 20,
    seed: int = 0,
) -> FailureRecallResult:
    """`planted`: the dataset's `planted_confusions`; `counts`: (true, predicted) → test errors;
    `ranked(true, predicted, phrases)`: the analysis's ranked attribute phrases for a confusion
    when the vocabulary reads `phrases` (the real one, or a shuffle of it)."""
    rng = np.random.default_rng(seed)
    permutations = [list(rng.permutation(phrases)) for _ in range(shuffles)]
    pairs, hits, shuffled = [], [], []
    for row in planted.itertuples():
        base, twin = int(row.base_class_id), int(row.twin_class_id)
        errors = counts.get((base, twin), 0) + counts.get((twin, base), 0)
        difference = {row.base_phrase, row.twin_phrase}
        pair = {"base_class_id": base, "twin_class_id": twin, "difference": [row.base_phrase, row.twin_phrase], "errors": errors}
        pair["evaluated"] = errors >= MIN_ERRORS
        if pair["evaluated"]:
            true, predicted = dominant_direction(counts, base, twin)
            top = ranked(true, predicted, phrases)[:TOP]
            pair.update(confusion=[true, predicted], top=top, recalled=bool(difference & set(top)))
            hits.append(pair["recalled"])
            shuffled.append(np.mean([bool(difference & set(ranked(true, predicted, shuffle)[:TOP])) for shuffle in permutations]))
        pairs.append(pair)
    mean = lambda values: float(np.mean(values)) if values else float("nan")
    return FailureRecallResult(mean(hits), mean(shuffled), pairs)
