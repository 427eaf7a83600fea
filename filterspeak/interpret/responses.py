"""Filter responses s_f(x): the spatial reductions of a feature map, declared once.

Each response names its reduction and the `activations` column that stores it; extraction
computes every one, `--response` chooses among them, and the co-occurrence SQL, the evaluation
and the schemas all look them up here. Adding a variant is one entry in RESPONSES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from filterspeak.errors import OptionError


@dataclass(frozen=True)
class Response:
    name: str
    column: str  # its column in `activations`
    reduce: Callable[[torch.Tensor], torch.Tensor]  # (B, F, H, W) feature maps -> (B, F)
    help: str


RESPONSES: dict[str, Response] = {
    response.name: response
    for response in (
        Response("max", "max_response", lambda maps: maps.amax(dim=(2, 3)), "spatial max of the feature map"),
        Response("mean", "mean_response", lambda maps: maps.mean(dim=(2, 3)), "spatial mean (global average pool)"),
    )
}
GAP = RESPONSES["mean"]  # what a global-average-pool + linear head decides from


def response(name: str) -> Response:
    """The response called `name`; an unknown name is a user error listing the known ones."""
    try:
        return RESPONSES[name]
    except KeyError:
        raise OptionError(f"unknown response {name!r}; choose from {', '.join(RESPONSES)}") from None
