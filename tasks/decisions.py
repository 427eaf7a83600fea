"""The decision tables, written the same way by every stage that decides (`extract` with the
model's own head, `head` with a trained linear head), and the head read back from them: the
explanation stage, `explain` and the evaluation read one format whatever decided."""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from filterspeak.backbones.heads import DecisionHead, GradientTimesActivation, ModelLinearHead, TrainedLinearHead
from filterspeak.interpret.decomposition import LINEAR_GAP
from filterspeak.interpret.filter_pdfs import dense_matrix
from filterspeak.storage.cache import StageOutput, StageResult
from filterspeak.storage.schemas import BACKBONE_LAYER, BOOL, F64, I32, I64, table
from filterspeak.storage.vectors import vector_column

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
    # α_f(x) toward the predicted class: one row per image, one value per filter (SQL: the
    # `contributions` view, one row per (image, filter)).
    "filter_contributions": table(("image_id", I64), ("contribution", pa.list_(F64)), partition=BACKBONE_LAYER),
    "head_weights": table(("class_id", I64), ("filter", I32), ("weight", F64), partition=BACKBONE_LAYER),
    "head_bias": table(("class_id", I64), ("bias", F64), partition=BACKBONE_LAYER),
}
TRAINED_HEAD_STAGE = "head"


class DecisionWriter:
    """The decision tables, written chunk by chunk in image order (so no stage holds every
    image's contributions at once); the head's weights and the metrics once, on close."""

    def __init__(self, output: StageOutput, head: DecisionHead) -> None:
        self.output, self.head = output, head
        self._stack = ExitStack()
        self._predictions = self._stack.enter_context(output.writer("predictions"))
        self._contributions = self._stack.enter_context(output.writer("filter_contributions"))
        self._tested = self._correct = self._filters = 0

    def write(self, images: pd.DataFrame, logits: np.ndarray, gap: np.ndarray, gradients: np.ndarray | None = None) -> None:
        """`images` sorted by image_id, aligned with the rows of `logits` (n, C) and `gap` (n, F)."""
        probabilities = torch.softmax(torch.tensor(logits), dim=1).numpy()  # a copy: stored arrays are read-only
        predicted = logits.argmax(axis=1)
        rows = np.arange(len(predicted))
        truth = images["class_id"].to_numpy()
        image_ids = images["image_id"].to_numpy()
        self._predictions.write(
            pd.DataFrame(
                {
                    "image_id": image_ids,
                    "predicted_class_id": predicted,
                    "true_class_id": truth,
                    "probability": probabilities[rows, predicted],
                    "logit": logits[rows, predicted],
                    "correct": predicted == truth,
                }
            )
        )
        contributions = self.head.contributions(gap, predicted, gradients)
        self._filters = contributions.shape[1]
        ids = pa.array(image_ids, type=I64)
        self._contributions.write(pa.table({"image_id": ids, "contribution": vector_column(contributions, F64)}))
        test = (images["split"] == "test").to_numpy()
        self._tested += int(test.sum())
        self._correct += int((predicted[test] == truth[test]).sum())

    def close(self) -> None:
        self._stack.close()
        if self.head.linear is not None:
            weights, bias = self.head.linear
            classes = weights.shape[0]
            self.output.write(
                "head_weights",
                pd.DataFrame(
                    {
                        "class_id": np.repeat(np.arange(classes), weights.shape[1]),
                        "filter": np.tile(np.arange(weights.shape[1], dtype=np.int32), classes),
                        "weight": weights.reshape(-1),
                    }
                ),
            )
            self.output.write("head_bias", pd.DataFrame({"class_id": np.arange(classes), "bias": bias}))
        self.output.metrics.update(
            filters=self._filters, decomposition=self.head.method, decision_accuracy=self._correct / self._tested if self._tested else None
        )

    def __enter__(self) -> DecisionWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.close()
        else:
            self._stack.__exit__(kind, error, trace)


def write_decisions(
    output: StageOutput, images: pd.DataFrame, logits: np.ndarray, gap: np.ndarray, head: DecisionHead, gradients: np.ndarray | None = None
) -> None:
    """All decisions at once (`DecisionWriter` with one chunk)."""
    with DecisionWriter(output, head) as writer:
        writer.write(images, logits, gap, gradients)


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
