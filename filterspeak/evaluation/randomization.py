"""Randomisation sanity check (Adebayo et al. 2018): sentences of a network whose weights were
re-initialised must cite other attributes than the trained network's; if they do not, the words
come from caption priors, not from the network. Overlap = mean Jaccard index of the two cited
attribute sets over the images both explain."""

from __future__ import annotations

import pandas as pd


def cited_overlap(trained: pd.DataFrame, randomised: pd.DataFrame) -> tuple[float, int]:
    """(mean Jaccard overlap, images compared) of two `explanation_attributes` tables."""
    first = trained.groupby("image_id")["phrase"].agg(frozenset)
    second = randomised.groupby("image_id")["phrase"].agg(frozenset)
    common = first.index.union(second.index)
    scores = []
    for image_id in common:
        a, b = first.get(image_id, frozenset()), second.get(image_id, frozenset())
        union = a | b
        scores.append(len(a & b) / len(union) if union else 1.0)
    return (sum(scores) / len(scores) if scores else float("nan")), len(scores)
