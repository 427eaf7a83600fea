"""A linear classifier on GAP features: the head for datasets whose classes differ from the backbone's.

Features are standardised while fitting and the scaling is folded back into (W, b), so the
returned head reads raw GAP responses and the logit still decomposes exactly over filters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class HeadParams:
    epochs: int = 300  # full-batch optimisation steps
    learning_rate: float = 0.05
    weight_decay: float = 1e-3
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def fit_linear_head(features: np.ndarray, labels: np.ndarray, num_classes: int, params: HeadParams) -> tuple[np.ndarray, np.ndarray]:
    """(W (C, F), b (C,)) of a softmax classifier with L2 penalty, fitted with Adam on the full batch."""
    torch.manual_seed(params.seed)
    x = torch.from_numpy(features).double()
    y = torch.from_numpy(labels).long()
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-8)
    z = (x - mean) / std
    linear = torch.nn.Linear(x.shape[1], num_classes).double()
    optimiser = torch.optim.Adam(linear.parameters(), lr=params.learning_rate)
    for _ in range(params.epochs):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(z), y) + params.weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        weights = linear.weight / std  # W z + b = (W/σ) x + (b − W μ/σ)
        bias = linear.bias - (linear.weight * (mean / std)).sum(dim=1)
    return weights.numpy(), bias.numpy()
