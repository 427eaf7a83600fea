"""Planted concept filters: a built-in model variant whose first K filters at the explained layer
are trained, beside the class loss, to detect K chosen attributes (as in a concept-bottleneck
model). Their meaning is then known, so the evaluation can check that p(a|f) recovers it.

Concepts are chosen from the dataset's ground truth (`image_truth`), never from captions, and
only among attributes that no class definition fixes and that vary within every class, so a
filter's top images share the planted attribute and not a class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from filterspeak.errors import OptionError

MIN_FREQUENCY = 0.08  # of train images: rarer attributes give filters too few examples
CONCEPT_KINDS = ("colour", "pattern")


@dataclass(frozen=True)
class ConceptTargets:
    """Filter k of the layer is trained to detect `phrases[k]`; `labels` (N_train, K) in {0, 1}."""

    phrases: tuple[str, ...]
    labels: torch.Tensor


def choose_concepts(image_truth: pd.DataFrame, train_ids: np.ndarray, class_definitions: pd.DataFrame, count: int) -> tuple[str, ...]:
    """`count` phrases, one part at a time in turn, the most frequent first; deterministic."""
    truth = image_truth[image_truth["image_id"].isin(set(train_ids)) & image_truth["kind"].isin(CONCEPT_KINDS)]
    defining = set(class_definitions["phrase"]) if len(class_definitions) else set()
    frequency = truth.drop_duplicates(["image_id", "phrase"]).groupby(["part", "phrase"]).size() / max(len(train_ids), 1)
    candidates = frequency[(frequency >= MIN_FREQUENCY) & ~frequency.index.get_level_values("phrase").isin(defining)]
    by_part = {
        part: [phrase for (_, phrase), _ in group.sort_values(ascending=False, kind="stable").items()]
        for part, group in sorted(candidates.groupby(level="part"))
    }
    chosen: list[str] = []
    while len(chosen) < count and any(by_part.values()):
        for part in list(by_part):
            if by_part[part] and len(chosen) < count:
                chosen.append(by_part[part].pop(0))
    if len(chosen) < count:
        raise OptionError(f"only {len(chosen)} attributes qualify as planted concepts; ask for at most that many (--concept-filters)")
    return tuple(chosen)


def concept_labels(image_ids: np.ndarray, image_truth: pd.DataFrame, phrases: tuple[str, ...]) -> torch.Tensor:
    """(len(image_ids), K) presence of each phrase in each image."""
    present = set(zip(image_truth["image_id"], image_truth["phrase"]))
    return torch.tensor([[float((int(i), p) in present) for p in phrases] for i in image_ids], dtype=torch.float32)


class ConceptProbe(nn.Module):
    """logit_k = softplus(scale_k) · max_hw A_k + bias_k on the layer's maps before its ReLU: a
    positive scale, so the filter must *fire* on the attribute (not on its absence) for the loss
    to fall."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(count))
        self.bias = nn.Parameter(torch.zeros(count))

    def forward(self, feature_maps: torch.Tensor) -> torch.Tensor:
        count = self.scale.shape[0]
        response = feature_maps[:, :count].amax(dim=(2, 3))
        return nn.functional.softplus(self.scale) * response + self.bias
