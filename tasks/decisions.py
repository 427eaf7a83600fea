"""The decision tables every decision source writes the same way: predictions, contributions,
and (for linear heads) head weights. Used by `extract` (the model's own head) and `head` (a
trained linear head), so the explanation stage reads one format whatever decided."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from filterspeak.interpret.decomposition import LINEAR_GAP, linear_gap_contributions
from filterspeak.storage.cache import StageOutput


def write_decisions(
    output: StageOutput,
    partition: dict[str, str],
    images: pd.DataFrame,
    logits: np.ndarray,
    gap: np.ndarray,
    method: str,
    head_weights: tuple[np.ndarray, np.ndarray] | None = None,
    contributions: np.ndarray | None = None,
) -> None:
    """`images` sorted by image_id, aligned with the rows of `logits` (N, C) and `gap` (N, F)."""
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    predicted = logits.argmax(axis=1)
    rows = np.arange(len(predicted))
    if method == LINEAR_GAP:
        weights, bias = head_weights
        contributions = linear_gap_contributions(gap, weights, predicted)
    truth = images["class_id"].to_numpy()
    image_ids = images["image_id"].to_numpy()
    output.write(
        "predictions",
        pd.DataFrame(
            {
                "image_id": image_ids,
                "predicted_class_id": predicted,
                "true_class_id": truth,
                "probability": probabilities[rows, predicted],
                "logit": logits[rows, predicted],
                "correct": predicted == truth,
            }
        ),
        partition,
    )
    filters = contributions.shape[1]
    output.write(
        "contributions",
        pd.DataFrame(
            {
                "image_id": np.repeat(image_ids, filters),
                "filter": np.tile(np.arange(filters, dtype=np.int32), len(image_ids)),
                "contribution": contributions.reshape(-1),
            }
        ),
        partition,
    )
    if head_weights is not None:
        weights, bias = head_weights
        classes = weights.shape[0]
        output.write(
            "head_weights",
            pd.DataFrame(
                {
                    "class_id": np.repeat(np.arange(classes), filters),
                    "filter": np.tile(np.arange(filters, dtype=np.int32), classes),
                    "weight": weights.reshape(-1),
                }
            ),
            partition,
        )
        output.write("head_bias", pd.DataFrame({"class_id": np.arange(classes), "bias": bias}), partition)
    test = (images["split"] == "test").to_numpy()
    output.metrics.update(
        decomposition=method,
        decision_accuracy=float((predicted[test] == truth[test]).mean()) if test.any() else None,
    )
