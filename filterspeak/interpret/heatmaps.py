"""Attribute heat maps M_a(x) = Σ_f p(f|a) A_f(x), upsampled (bilinear) to the image.

One implementation for the two readers of these maps: the grounding metric
(`filterspeak.evaluation.grounding`, which keeps only each map's peak) and `filterspeak explain
--heatmaps` (which draws them), so the pictures a user sees are the maps the evaluation scores.
p(f|a) ∝ p(a|f) p(f), with p(f) the mean share of f in the responses of the build's train images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from filterspeak.interpret.decomposition import positive_shares


def filter_given_attribute(pdf: np.ndarray, filter_prior: np.ndarray) -> np.ndarray:
    """(A, F) p(f|a) ∝ p(a|f) p(f) from `pdf` (F, A) and `filter_prior` (F,); an attribute no
    filter carries gets a zero row (its map is flat) rather than NaN."""
    joint = pdf.T * filter_prior[None, :]
    totals = joint.sum(axis=1, keepdims=True)
    return np.divide(joint, totals, out=np.zeros_like(joint), where=totals > 0)


def filter_prior(responses: np.ndarray) -> np.ndarray:
    """p(f): mean over images of p(f|x) ∝ s_f(x)."""
    return positive_shares(responses).mean(axis=0)


def heat_maps(feature_maps: torch.Tensor, weights: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, K, H, W) the K maps Σ_f weights[.., k, f] A_f of `feature_maps` (B, F, h, w), upsampled
    bilinearly (align_corners=False) to `size` = (H, W).

    `weights` is (K, F) (the same maps for every image) or (B, K, F) (per-image maps). The maps
    are summed at the layer's resolution, then upsampled: both are linear, so this equals
    upsampling each A_f first, at a fraction of the cost."""
    if weights.dim() == 2:
        heat = torch.einsum("kf,bfhw->bkhw", weights.float(), feature_maps.float())
    else:
        heat = torch.einsum("bkf,bfhw->bkhw", weights.float(), feature_maps.float())
    return F.interpolate(heat, size=tuple(size), mode="bilinear", align_corners=False)
