"""How much each filter contributed to a decision.

For a head that is global-average-pool + linear the logit decomposes exactly:
logit_c(x) = b_c + Σ_f w_cf · GAP(A_f(x)), so α_f(x) = w_cf · GAP(A_f(x)). Other heads use
gradient × activation, α_f(x) = Σ_hw A_f(x)[h,w] · ∂logit_c/∂A_f[h,w] (computed where the
network runs: `filterspeak.backbones.features.forward_with_gradients`).
"""

from __future__ import annotations

import numpy as np

LINEAR_GAP = "linear_gap"
GRADIENT_X_ACTIVATION = "gradient_x_activation"


def linear_gap_contributions(gap: np.ndarray, weights: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """α (N, F) for images with GAP responses `gap` (N, F) toward classes `classes` (N,) under head `weights` (C, F)."""
    return weights[np.asarray(classes)] * gap


def positive_shares(matrix: np.ndarray) -> np.ndarray:
    """Each row's positive part divided by its sum (a distribution per row); all-zero rows stay zero."""
    positive = np.clip(matrix, 0.0, None)
    totals = positive.sum(axis=1, keepdims=True)
    return np.divide(positive, totals, out=np.zeros_like(positive), where=totals > 0)


def filter_weights_for_decision(contributions: np.ndarray) -> np.ndarray:
    """p(f | x, ĉ) ∝ max(α_f, 0)."""
    return positive_shares(contributions)
