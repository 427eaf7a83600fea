"""The decision tables, written the same way by every stage that decides (`extract` with the
model's own head, `head` with a trained linear head), and the head read back from them: the
explanation stage, `explain` and the evaluation read one format whatever decided."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from filterspeak.backbones.heads import DecisionHead, GradientTimesActivation, ModelLinearHead, TrainedLinearHead
from filterspeak.interpret.decomposition import LINEAR_GAP
from filterspeak.interpret.filter_pdfs import dense_matrix
from filterspeak.storage.cache import StageOutput, StageResult
from filterspeak.storage.schemas import BACKBONE_LAYER, BOOL, F64, I32, I64, table

TABLES = {
    "predictions": table(
        ("image_id", I64),
        ("predicted_class_id", I64),
        ("true_class_id", I64),
        ("probability", F64),
        ("logit", F64),
        ("correct", BOOL),
        partition=BACKBONE_LAYER,
    ),
    "contributions": table(("image_id", I64), ("filter", I32), ("contribution", F64), partition=BACKBONE_LAYER),
    "head_weights": table(("class_id", I64), ("filter", I32), ("weight", F64), partition=BACKBONE_LAYER),
    "head_bias": table(("class_id", I64), ("bias", F64), partition=BACKBONE_LAYER),
}
TRAINED_HEAD_STAGE = "head"


def long_matrix(image_ids: np.ndarray, column: str, matrix: np.ndarray) -> pd.DataFrame:
    """(N, F) matrix → one row per (image, filter)."""
    filters = matrix.shape[1]
    return pd.DataFrame(
        {
            "image_id": np.repeat(image_ids, filters),
            "filter": np.tile(np.arange(filters, dtype=np.int32), len(image_ids)),
            column: matrix.reshape(-1),
        }
    )


def write_decisions(
    output: StageOutput, images: pd.DataFrame, logits: np.ndarray, gap: np.ndarray, head: DecisionHead, gradients: np.ndarray | None = None
) -> None:
    """`images` sorted by image_id, aligned with the rows of `logits` (N, C) and `gap` (N, F)."""
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    predicted = logits.argmax(axis=1)
    rows = np.arange(len(predicted))
    contributions = head.contributions(gap, predicted, gradients)
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
    )
    output.write("contributions", long_matrix(image_ids, "contribution", contributions))
    if head.linear is not None:
        weights, bias = head.linear
        classes = weights.shape[0]
        output.write(
            "head_weights",
            pd.DataFrame(
                {
                    "class_id": np.repeat(np.arange(classes), weights.shape[1]),
                    "filter": np.tile(np.arange(weights.shape[1], dtype=np.int32), classes),
                    "weight": weights.reshape(-1),
                }
            ),
        )
        output.write("head_bias", pd.DataFrame({"class_id": np.arange(classes), "bias": bias}))
    test = (images["split"] == "test").to_numpy()
    output.metrics.update(
        decomposition=head.method, decision_accuracy=float((predicted[test] == truth[test]).mean()) if test.any() else None
    )


def linear_head_of(result: StageResult) -> tuple[np.ndarray, np.ndarray] | None:
    """(W (C, F), b (C,)) stored by a linear decision head, or None."""
    if not result.has_table("head_weights"):
        return None
    weights = result.read("head_weights")
    bias = result.read("head_bias").sort_values("class_id")
    classes, filters = int(weights["class_id"].max()) + 1, int(weights["filter"].max()) + 1
    return dense_matrix(weights, classes, filters, "class_id", "filter", "weight"), bias["bias"].to_numpy()


def head_of(result: StageResult) -> DecisionHead:
    """The head behind a stored decision stage (`extract` or `head`), as one of the head classes."""
    linear = linear_head_of(result)
    if result.stage == TRAINED_HEAD_STAGE:
        return TrainedLinearHead(*linear)
    if result.metrics.get("decomposition") == LINEAR_GAP and linear is not None:
        return ModelLinearHead(*linear)
    return GradientTimesActivation()
