"""Stage `pdfs`: co-occurrence → p(a|f) (filter_attributes), filter_stats, class_attributes."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from filterspeak.interpret import filter_pdfs
from filterspeak.interpret.filter_pdfs import PriorCorrection
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS

STAGE = "pdfs"


@dataclass(frozen=True)
class PdfParams:
    prior_correction: PriorCorrection = "pmi"

    def to_dict(self) -> dict:
        return asdict(self)


def load_head(decision: StageResult) -> tuple[np.ndarray, np.ndarray] | None:
    """(W (C, F), b (C,)) of the linear head behind the decisions, or None for other heads."""
    if not decision.has_table("head_weights"):
        return None
    weights = decision.read("head_weights")
    bias = decision.read("head_bias").sort_values("class_id")
    classes, filters = int(weights["class_id"].max()) + 1, int(weights["filter"].max()) + 1
    matrix = filter_pdfs.dense_matrix(weights, classes, filters, "class_id", "filter", "weight")
    return matrix, bias["bias"].to_numpy()


def response_matrix(result: StageResult, column: str, image_ids: np.ndarray, table: str = "activations") -> np.ndarray:
    """(len(image_ids), F) matrix of one per-(image, filter) column, rows in the order of `image_ids`."""
    activations = result.read(table, ["image_id", "filter", column])
    wide = activations.pivot(index="image_id", columns="filter", values=column)
    return wide.reindex(image_ids).to_numpy(dtype=np.float64)


def estimate_pdfs(
    paths: StorePaths,
    dataset: StageResult,
    captions: StageResult,
    extraction: StageResult,
    decision: StageResult,
    cooccurrence: StageResult,
    params: PdfParams,
) -> StageResult:
    inputs = {
        "cooccurrence": cooccurrence.table_hash("cooccurrence"),
        "attributes": captions.table_hash("attributes"),
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "activations": extraction.table_hash("activations"),
        "contributions": decision.table_hash("contributions"),
        "predictions": decision.table_hash("predictions"),
        "params": params.to_dict(),
        "code": code_version(sys.modules[__name__], filter_pdfs),
    }
    partition = {"backbone": extraction.metrics["backbone"], "layer": extraction.metrics["layer"]}

    def compute(output: StageOutput) -> None:
        attributes = captions.read("attributes")
        num_attributes, num_filters = len(attributes), int(extraction.metrics["filters"])
        images = dataset.read("images")
        train_ids = images.loc[images["split"] == "train", "image_id"].to_numpy()
        prior = attributes.sort_values("attribute_id")["prior"].to_numpy()
        counts = cooccurrence.read("cooccurrence")
        matrix = filter_pdfs.dense_matrix(counts, num_filters, num_attributes, "filter", "attribute_id", "cooccurrence")
        pdf, lift = filter_pdfs.filter_attribute_matrix(matrix, prior, params.prior_correction)

        filters, attribute_ids = np.nonzero(pdf)
        output.write(
            "filter_attributes",
            pd.DataFrame(
                {
                    "filter": filters.astype(np.int32),
                    "attribute_id": attribute_ids,
                    "probability": pdf[filters, attribute_ids],
                    "cooccurrence": matrix[filters, attribute_ids],
                    "lift": lift[filters, attribute_ids],
                }
            ),
            partition,
        )

        train_max = response_matrix(extraction, "max_response", train_ids)
        train_mean = response_matrix(extraction, "mean_response", train_ids)
        selectivity, entropy = filter_pdfs.selectivity(pdf)
        has_pdf = pdf.sum(axis=1) > 0
        output.write(
            "filter_stats",
            pd.DataFrame(
                {
                    "filter": np.arange(num_filters, dtype=np.int32),
                    "selectivity": selectivity,
                    "entropy": entropy,
                    "top_attribute_id": np.where(has_pdf, pdf.argmax(axis=1), -1),
                    "top_probability": pdf.max(axis=1) if num_attributes else np.zeros(num_filters),
                    "mean_response": train_mean.mean(axis=0),
                    "max_response": train_max.max(axis=0),
                }
            ),
            partition,
        )

        head = load_head(decision)
        if head is not None:
            class_pdf = filter_pdfs.class_attribute_matrix(pdf, head[0], train_mean.mean(axis=0))
        else:
            predictions = decision.read("predictions").set_index("image_id").loc[train_ids]
            contributions = response_matrix(decision, "contribution", train_ids, table="contributions")
            class_pdf = filter_pdfs.class_attribute_matrix_from_decisions(
                pdf, contributions, predictions["predicted_class_id"].to_numpy(), int(dataset.metrics["classes"])
            )
        class_ids, attribute_ids = np.nonzero(class_pdf)
        frame = pd.DataFrame(
            {"class_id": class_ids, "attribute_id": attribute_ids, "probability": class_pdf[class_ids, attribute_ids]}
        )
        frame["rank"] = frame.groupby("class_id")["probability"].rank(ascending=False, method="first").astype(np.int32)
        output.write("class_attributes", frame.sort_values(["class_id", "rank"]), partition)
        output.metrics.update(
            filters=num_filters,
            attributes=num_attributes,
            mean_selectivity=float(selectivity[has_pdf].mean()) if has_pdf.any() else 0.0,
        )

    return run_stage(paths, STAGE, inputs, compute)
