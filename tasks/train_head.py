"""Stage `head`: fit a linear classifier on the layer's GAP features for the dataset's classes.

Used when the backbone's own classes differ from the dataset's (an ImageNet network on
birds). Its decisions decompose exactly: α_f = w_ĉf · GAP(A_f).
"""

from __future__ import annotations

import sys


from filterspeak.backbones import linear_head
from filterspeak.backbones.linear_head import HeadParams
from filterspeak.interpret.decomposition import LINEAR_GAP
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.decisions import write_decisions
from filterspeak.tasks.estimate_pdfs import response_matrix
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS

STAGE = "head"


def train_head(paths: StorePaths, dataset: StageResult, extraction: StageResult, params: HeadParams) -> StageResult:
    inputs = {
        "activations": extraction.table_hash("activations"),
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "params": params.to_dict(),
        "code": code_version(sys.modules[__name__], linear_head),
    }
    partition = {"backbone": extraction.metrics["backbone"], "layer": extraction.metrics["layer"]}

    def compute(output: StageOutput) -> None:
        images = dataset.read("images").sort_values("image_id").reset_index(drop=True)
        gap = response_matrix(extraction, "mean_response", images["image_id"].to_numpy())
        train = (images["split"] == "train").to_numpy()
        num_classes = int(dataset.metrics["classes"])
        weights, bias = linear_head.fit_linear_head(gap[train], images["class_id"].to_numpy()[train], num_classes, params)
        logits = gap @ weights.T + bias
        write_decisions(output, partition, images, logits, gap, LINEAR_GAP, head_weights=(weights, bias))
        predicted = logits.argmax(axis=1)
        output.metrics.update(
            backbone=partition["backbone"], layer=partition["layer"],
            train_accuracy=float((predicted[train] == images["class_id"].to_numpy()[train]).mean()),
            test_accuracy=output.metrics["decision_accuracy"],
        )

    return run_stage(paths, STAGE, inputs, compute)
