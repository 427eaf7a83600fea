"""Average precision: the one ranking score every evaluation metric uses."""

from __future__ import annotations

import numpy as np


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Σ_n (R_n − R_{n−1}) P_n over distinct score thresholds (as scikit-learn computes it), so
    tied scores earn no credit from an arbitrary order. NaN when there is no positive."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    positives = labels.sum()
    if positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last_of_tie = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    true_positives = np.cumsum(labels)[last_of_tie]
    precision = true_positives / (last_of_tie + 1)
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def random_ranking_precision(labels: np.ndarray, draws: int = 20, seed: int = 0) -> float:
    """Mean average precision of `draws` random rankings (fixed seed): the chance level."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=bool)
    return float(np.mean([average_precision(rng.random(len(labels)), labels) for _ in range(draws)]))
