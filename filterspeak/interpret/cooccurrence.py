"""cooccurrence(f, a) = Σ_x p(x|f) · p(a|x), streamed image chunk by image chunk as products.

p(x|f) ∝ s_f(x) over the train images selected for f: those where f responds (s_f(x) > 0), the
top k of them with `top_k` (ties broken by image id, as `ORDER BY response DESC, image_id`).
With R the (n, F) responses of a chunk masked to the selected images and P its (n, A) attribute
probabilities (sparse: a few attributes per image), each chunk adds Pᵀ·R to the (A, F) sums and
Iᵀ·mask to the supports (I: which attributes an image has). Memory is a chunk plus the (A, F)
sums, whatever the image count; every sum runs in image order, so reruns are bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

FILTER_BLOCK = 256  # filters per block of the product: (A, 256) float64 sums fit in a core's cache


@dataclass
class Selection:
    """Which images count for each filter: s_f(x) > threshold_f, plus the first `slots_f`
    images (in image order) with s_f(x) == threshold_f. Applied chunk by chunk in image order."""

    threshold: np.ndarray  # (F,)
    slots: np.ndarray  # (F,) ties at the threshold still to take
    taken: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.taken = np.zeros_like(self.slots)

    @classmethod
    def positive(cls, filters: int) -> Selection:
        """Every image where the filter responds (top_k = 0)."""
        return cls(np.zeros(filters), np.zeros(filters, dtype=np.int64))

    def mask(self, responses: np.ndarray) -> np.ndarray:
        positive = responses > 0
        if not self.slots.any() and not self.threshold.any():  # every positive response (top_k = 0)
            return positive
        chosen = positive & (responses > self.threshold)
        ties = positive & (responses == self.threshold)
        if ties.any():
            ties &= np.cumsum(ties, axis=0) + self.taken <= self.slots
            self.taken += ties.sum(axis=0)
        return chosen | ties


class TopResponses:
    """First pass for top_k > 0: the k largest positive responses of each filter seen so far."""

    def __init__(self, k: int, filters: int) -> None:
        self.k = k
        self.values = np.full((0, filters), -np.inf)

    def add(self, responses: np.ndarray) -> None:
        merged = np.concatenate([self.values, np.where(responses > 0, responses, -np.inf)])
        self.values = -np.partition(-merged, self.k - 1, axis=0)[: self.k] if len(merged) > self.k else merged

    def selection(self) -> Selection:
        filters = self.values.shape[1]
        if len(self.values) < self.k:  # fewer images than k: every positive one
            return Selection.positive(filters)
        kth = self.values.min(axis=0)
        short = ~np.isfinite(kth)  # fewer than k positive responses: every positive one
        threshold = np.where(short, 0.0, kth)
        above = (self.values > threshold).sum(axis=0)
        return Selection(threshold, np.where(short, 0, self.k - above).astype(np.int64))


class CooccurrenceSums:
    """Σ_x s_f(x)·p(a|x), Σ_x [a ∈ x] and Σ_x s_f(x) over the selected images, chunk by chunk."""

    def __init__(self, filters: int, attributes: int) -> None:
        self.weighted = np.zeros((attributes, filters))
        self.support = np.zeros((attributes, filters))
        self.total = np.zeros(filters)

    def add(self, responses: np.ndarray, mask: np.ndarray, rows: np.ndarray, attributes: np.ndarray, probabilities: np.ndarray) -> None:
        """One chunk: `responses` (n, F) and `mask` (n, F) of its images; the (row, attribute,
        probability) triples of their attributes, sorted by attribute then row."""
        shape = (self.weighted.shape[0], len(responses))
        # Image-major (CSC) factors: the product streams the chunk's rows in image order and adds
        # into (A, FILTER_BLOCK) blocks of the sums that stay in cache; every sum runs in image order.
        weights = sparse.csc_matrix((probabilities, (attributes, rows)), shape=shape)
        # counts of at most a chunk's images: exact in float32, which halves the memory traffic
        present = sparse.csc_matrix((np.ones(len(rows), np.float32), (attributes, rows)), shape=shape)
        for start in range(0, responses.shape[1], FILTER_BLOCK):
            block = slice(start, start + FILTER_BLOCK)
            selected = np.where(mask[:, block], responses[:, block], np.float64(0.0))  # float64, contiguous
            self.total[block] += selected.sum(axis=0)
            self.weighted[:, block] += weights @ selected
            self.support[:, block] += present @ mask[:, block].astype(np.float32)

    def merge(self, other: CooccurrenceSums) -> None:
        """Add another range's sums (ranges are added in image order: the same bits on every run)."""
        self.weighted += other.weighted
        self.support += other.support
        self.total += other.total

    def table(self) -> pd.DataFrame:
        """(filter, attribute_id, cooccurrence, support) for every pair with support, ordered."""
        support = self.support.T
        filters, attributes = np.nonzero(support)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = self.weighted.T[filters, attributes] / self.total[filters]
        return pd.DataFrame(
            {
                "filter": filters.astype(np.int32),
                "attribute_id": attributes,
                "cooccurrence": values,
                "support": support[filters, attributes].astype(np.int64),
            }
        )
