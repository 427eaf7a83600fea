"""Stage `explanations`: a sentence for the decision on every test image."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from filterspeak.interpret import decisions, decomposition, filter_pdfs, sentences
from filterspeak.interpret.decisions import AttributeVocabulary
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS
from filterspeak.tasks.estimate_pdfs import response_matrix

STAGE = "explanations"


@dataclass(frozen=True)
class ExplanationParams:
    top_k: int = 3  # attributes cited per sentence (at most one per noun)
    min_relative_score: float = 0.3  # cite only attributes scoring at least this fraction of the top one
    split: str = "test"

    def to_dict(self) -> dict:
        return asdict(self)


def example_sentences(explained: list, correct: np.ndarray, count: int = 3) -> list[str]:
    """A few sentences for correct decisions, each about a different class."""
    examples: dict[int, str] = {}
    for item, is_correct in zip(explained, correct):
        if is_correct and item.predicted_class_id not in examples:
            examples[item.predicted_class_id] = item.sentence
    return list(examples.values())[:: max(1, len(examples) // count)][:count]


def load_pdf(pdfs: StageResult, num_filters: int, num_attributes: int) -> np.ndarray:
    frame = pdfs.read("filter_attributes", ["filter", "attribute_id", "probability"])
    return filter_pdfs.dense_matrix(frame, num_filters, num_attributes, "filter", "attribute_id", "probability")


def vocabulary_of(captions: StageResult) -> AttributeVocabulary:
    attributes = captions.read("attributes").sort_values("attribute_id")
    return AttributeVocabulary(attributes["phrase"].tolist(), attributes["noun"].tolist())


def generate_explanations(
    paths: StorePaths,
    dataset: StageResult,
    captions: StageResult,
    extraction: StageResult,
    decision: StageResult,
    pdfs: StageResult,
    params: ExplanationParams,
) -> StageResult:
    inputs = {
        "filter_attributes": pdfs.table_hash("filter_attributes"),
        "contributions": decision.table_hash("contributions"),
        "predictions": decision.table_hash("predictions"),
        "attributes": captions.table_hash("attributes"),
        "classes": dataset.table_hash("classes"),
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "params": params.to_dict(),
        "code": code_version(sys.modules[__name__], decisions, decomposition, sentences),
    }
    partition = {"backbone": extraction.metrics["backbone"], "layer": extraction.metrics["layer"]}

    def compute(output: StageOutput) -> None:
        vocabulary = vocabulary_of(captions)
        pdf = load_pdf(pdfs, int(extraction.metrics["filters"]), len(vocabulary.phrases))
        images = dataset.read("images")
        chosen = np.sort(images.loc[images["split"] == params.split, "image_id"].to_numpy())
        predictions = decision.read("predictions").set_index("image_id").loc[chosen]
        classes = dataset.read("classes")
        explained = decisions.explain_decisions(
            response_matrix(decision, "contribution", chosen, table="contributions"),
            predictions["predicted_class_id"].to_numpy(),
            pdf,
            vocabulary,
            dict(zip(classes["class_id"], classes["name"])),
            params.top_k,
            params.min_relative_score,
            decision.metrics["decomposition"],
        )
        output.write(
            "explanations",
            pd.DataFrame(
                {
                    "image_id": chosen,
                    "predicted_class_id": predictions["predicted_class_id"].to_numpy(),
                    "true_class_id": predictions["true_class_id"].to_numpy(),
                    "correct": predictions["correct"].to_numpy(),
                    "probability": predictions["probability"].to_numpy(),
                    "decomposition": [item.decomposition for item in explained],
                    "sentence": [item.sentence for item in explained],
                }
            ),
            partition,
        )
        cited = [
            (image_id, rank, item.attribute_id, item.phrase, item.score)
            for image_id, explanation in zip(chosen, explained)
            for rank, item in enumerate(explanation.cited, start=1)
        ]
        frame = pd.DataFrame(cited, columns=["image_id", "rank", "attribute_id", "phrase", "score"])
        frame["rank"] = frame["rank"].astype(np.int32)
        output.write("explanation_attributes", frame, partition)
        output.metrics.update(explained=len(chosen), examples=example_sentences(explained, predictions["correct"].to_numpy()))

    return run_stage(paths, STAGE, inputs, compute)
