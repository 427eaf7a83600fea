"""Filter responses s_f(x): the spatial reductions of a feature map, one class each.

Each response names its reduction and the `activations` column that stores it; extraction
computes every one, `--response` chooses among them, and the co-occurrence SQL, the evaluation
and the schemas all look them up here. Adding a variant is one class in RESPONSES.
"""

from __future__ import annotations

from typing import Protocol

import torch

from filterspeak.registry import Registry


class Response(Protocol):
    name: str
    column: str  # its column in `activations`
    help: str

    def reduce(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, F, H, W) feature maps -> (B, F)."""
        ...


class SpatialMax:
    name, column, help = "max", "max_response", "spatial max of the feature map"

    def reduce(self, maps: torch.Tensor) -> torch.Tensor:
        return maps.amax(dim=(2, 3))


class SpatialMean:
    name, column, help = "mean", "mean_response", "spatial mean (global average pool)"

    def reduce(self, maps: torch.Tensor) -> torch.Tensor:
        return maps.mean(dim=(2, 3))


RESPONSES: Registry[Response] = Registry("response", (SpatialMax(), SpatialMean()))
GAP = RESPONSES["mean"]  # what a global-average-pool + linear head decides from
