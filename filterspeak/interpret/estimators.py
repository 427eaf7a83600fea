"""How p(a|f) is estimated from the captions: the estimators `--estimator` chooses between, one
class each in ESTIMATORS (adding one is one class here).

Both read an image's caption attributes as drawn from a mixture over its filters,
p(a|x) = Σ_f p(a|f) p(f|x) with p(f|x) ∝ s_f(x) (what `attribute_scores`, search and retrieval use).
- "counting": one pass, p(a|f) ∝ Σ_x p(x|f) p(a|x) (the `cooccurrence` stage);
- "em": the paper's latent-variable reading, fitted by EM from the counting estimate. The filter
  behind each caption attribute is latent: responsibilities q(f | x, a) ∝ p(a|f) p(f|x), then
  p(a|f) ∝ Σ_x n(x, a) q(f | x, a), until the caption log-likelihood per image,
  (1/N) Σ_x Σ_a n(x, a) log Σ_f p(a|f) p(f|x) over the N train images some filter responds to,
  gains less than the tolerance.
Each EM step cannot lower the likelihood; the sums run chunk by chunk in image order, so reruns are
bit-identical. The prior correction (`--prior-correction`) applies to either result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy import sparse

from filterspeak.interpret.decomposition import positive_shares
from filterspeak.progress import Progress
from filterspeak.registry import Registry

MAX_EM_ITERATIONS = 500  # a bound, never the usual stop: the tolerance stops EM (tens of steps on the builds measured)
MIXTURE_VALUES = 1 << 22  # p(a|x) values held at once by mixture_at (32 MB of float64), whatever the chunk and vocabulary

#: (p(f|x) (n, F), n(x, a) (n, A) sparse) for the train images, chunk by chunk in image order.
Chunks = Callable[[], Iterable[tuple[np.ndarray, sparse.csr_matrix]]]


@dataclass
class EstimatorRun:
    """p(a|f) (F, A) up to row scale, the caption log-likelihood per image before each step and after
    the last, and whether the tolerance (not a bound) stopped it."""

    pdf: np.ndarray
    log_likelihoods: list[float] = field(default_factory=list)
    converged: bool = False


def _explained(shares: np.ndarray, counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """The chunk's caption attributes of images some filter responds to (the others have p(f|x) = 0
    for every f, so no filter can explain their words)."""
    return sparse.diags((shares.sum(axis=1) > 0).astype(np.float64)) @ counts


def mixture_at(shares: np.ndarray, pdf: np.ndarray, counts: sparse.csr_matrix) -> np.ndarray:
    """p(a|x) = Σ_f p(f|x) p(a|f) at each stored entry of `counts` (in its CSR order): row blocks of
    the dense product p(f|x) · p(a|f) at BLAS speed, read at the entries, MIXTURE_VALUES at a time."""
    images, attributes = counts.shape
    rows = max(1, MIXTURE_VALUES // max(attributes, 1))
    mixture = np.empty(counts.nnz)
    for start in range(0, images, rows):
        stop = min(start + rows, images)
        first, last = counts.indptr[start], counts.indptr[stop]
        if first == last:
            continue
        block = shares[start:stop] @ pdf  # (rows, A)
        local = np.repeat(np.arange(stop - start), np.diff(counts.indptr[start : stop + 1]))
        mixture[first:last] = block[local, counts.indices[first:last]]
    return mixture


def _step(pdf: np.ndarray, chunks: Chunks, expected: bool = True) -> tuple[np.ndarray | None, float, int]:
    """One EM step: (Σ_x n(x, a) q(f | x, a) as (F, A), or None without `expected`; Σ n log p(a|x);
    images) under `pdf`."""
    sums = np.zeros_like(pdf) if expected else None
    log_likelihood, images = 0.0, 0
    for shares, counts in chunks():
        counts = _explained(shares, counts).tocsr()
        mixture = mixture_at(shares, pdf, counts)  # p(a|x) at each caption attribute
        keep = mixture > 0
        log_likelihood += float(counts.data[keep] @ np.log(mixture[keep]))
        if sums is not None:
            ratio = sparse.csr_matrix(
                (np.where(keep, counts.data / np.where(keep, mixture, 1.0), 0.0), counts.indices, counts.indptr), counts.shape
            )
            sums += (ratio.T @ shares).T  # Σ_x p(f|x) n(x, a) / p(a|x)
        images += int((shares.sum(axis=1) > 0).sum())
    return (None if sums is None else sums * pdf), log_likelihood, images  # × p(a|f): Σ_x n(x, a) q(f | x, a)


def fit_em(initial: np.ndarray, chunks: Chunks, tolerance: float, max_iterations: int = MAX_EM_ITERATIONS, on_step=None) -> EstimatorRun:
    """EM from `initial` (F, A) (the counting estimate), stopping once the log-likelihood per image
    gains less than `tolerance`; `on_step(iteration, log_likelihood)` reports progress."""
    run = EstimatorRun(positive_shares(initial))
    for iteration in range(max_iterations + 1):
        expected, log_likelihood, images = _step(run.pdf, chunks)
        per_image = log_likelihood / max(images, 1)
        run.log_likelihoods.append(per_image)
        if on_step is not None:
            on_step(iteration, per_image)
        if iteration and per_image - run.log_likelihoods[-2] < tolerance:
            run.converged = True
            break
        if iteration == max_iterations:
            break
        run.pdf = positive_shares(expected)
    return run


def caption_log_likelihood(pdf: np.ndarray, chunks: Chunks) -> float:
    """(1/N) Σ_x Σ_a n(x, a) log p(a|x) of the captions under `pdf` (F, A)."""
    _, log_likelihood, images = _step(positive_shares(pdf), chunks, expected=False)
    return log_likelihood / max(images, 1)


class Estimator(Protocol):
    name: str
    help: str
    options: tuple[str, ...]  # the build options it reads (only these key its stage)

    def estimate(self, counted: np.ndarray, chunks: Chunks, settings: Mapping[str, Any], progress: bool = False) -> EstimatorRun:
        """From the co-occurrence `counted` (F, A) and the train images' `chunks`, with `settings` (its
        `options`); an estimator that iterates shows its steps when `progress`."""
        ...


class Counting:
    name, help, options = "counting", "one co-occurrence pass", ()

    def estimate(self, counted, chunks, settings, progress=False) -> EstimatorRun:
        # the co-occurrence itself: the prior correction normalises it
        return EstimatorRun(counted, [caption_log_likelihood(counted, chunks)], converged=True)


class ExpectationMaximisation:
    name, options = "em", ("em_tolerance",)
    help = "the latent-variable model p(a|x) = sum_f p(a|f) p(f|x) fitted by EM from the count"

    def estimate(self, counted, chunks, settings, progress=False) -> EstimatorRun:
        with Progress(None, "EM on p(a|f)", unit="step", enabled=progress) as bar:

            def on_step(_iteration: int, value: float) -> None:
                bar.update(1)
                bar.postfix(log_likelihood=f"{value:.5f}")

            return fit_em(counted, chunks, settings["em_tolerance"], on_step=on_step)


ESTIMATORS: Registry[Estimator] = Registry("estimator", (Counting(), ExpectationMaximisation()))
