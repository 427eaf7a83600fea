"""Prior corrections of p(a|f) (`--prior-correction`), one class each in PRIOR_CORRECTIONS, so that
phrases frequent everywhere do not dominate. Each gets p(a|f) as counted and its lift
p(a|f) / p(a), where p(a) = mean p(a|x) over the train images; adding one is one class here."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from filterspeak.registry import Registry


class PriorCorrection(Protocol):
    name: str
    help: str

    def correct(self, raw: np.ndarray, lift: np.ndarray) -> np.ndarray:
        """p(a|f) (F, A) corrected, rows summing to 1 (or 0 for a filter that never co-occurs)."""
        ...


def renormalised(weights: np.ndarray) -> np.ndarray:
    """`weights` (F, A) with each row divided by its sum; all-zero rows stay zero."""
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)


class NoCorrection:
    name, help = "none", "p(a|f) as counted"

    def correct(self, raw: np.ndarray, lift: np.ndarray) -> np.ndarray:
        return raw


class Lift:
    name, help = "lift", "p(a|f) / p(a), renormalised: favours rare phrases, caption noise included"

    def correct(self, raw: np.ndarray, lift: np.ndarray) -> np.ndarray:
        return renormalised(lift)


class PointwiseMutualInformation:
    name = "pmi"
    help = "p(a|f) max(log(p(a|f) / p(a)), 0), renormalised: only enriched attributes, weighted by the filter's mass on them"

    def correct(self, raw: np.ndarray, lift: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return renormalised(raw * np.clip(np.log(np.where(lift > 0, lift, 1.0)), 0.0, None))


PRIOR_CORRECTIONS: Registry[PriorCorrection] = Registry("prior correction", (NoCorrection(), Lift(), PointwiseMutualInformation()))
