"""Stage `explanations`: a sentence for the decision on every test image."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from filterspeak.interpret import decisions
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.schemas import BACKBONE_LAYER, BOOL, F64, I32, I64, STR, table
from filterspeak.tasks.readers import filter_attribute_pdf, split_ids, vector_chunks, vocabulary_of
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {
    "explanations": table(
        ("image_id", I64),
        ("predicted_class_id", I64),
        ("true_class_id", I64),
        ("correct", BOOL),
        ("probability", F64),
        ("decomposition", STR),
        ("sentence", STR),
        partition=BACKBONE_LAYER,
    ),
    "explanation_attributes": table(
        ("image_id", I64), ("rank", I32), ("attribute_id", I64), ("phrase", STR), ("score", F64), partition=BACKBONE_LAYER
    ),
}


@dataclass(frozen=True)
class ExplanationParams:
    top_k: int  # attributes cited per sentence (at most one per noun)
    min_relative_score: float  # cite only attributes scoring at least this fraction of the top one
    split: str = "test"

    def to_dict(self) -> dict:
        return asdict(self)


def params_from(options, inputs: Inputs | None = None) -> ExplanationParams:
    return ExplanationParams(top_k=options.sentence_attributes, min_relative_score=options.min_relative_score)


def example_sentences(first_by_class: dict[int, str], count: int = 3) -> list[str]:
    """A few sentences for correct decisions, each about a different class (spread over them)."""
    examples = list(first_by_class.values())
    return examples[:: max(1, len(examples) // count)][:count]


def _explanation_rows(chosen: np.ndarray, predictions: pd.DataFrame, explained: list) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": chosen,
            "predicted_class_id": predictions["predicted_class_id"].to_numpy(),
            "true_class_id": predictions["true_class_id"].to_numpy(),
            "correct": predictions["correct"].to_numpy(),
            "probability": predictions["probability"].to_numpy(),
            "decomposition": [item.decomposition for item in explained],
            "sentence": [item.sentence for item in explained],
        }
    )


def _cited_rows(chosen: np.ndarray, explained: list) -> pd.DataFrame:
    cited = [
        (image_id, rank, item.attribute_id, item.phrase, item.score)
        for image_id, explanation in zip(chosen, explained)
        for rank, item in enumerate(explanation.cited, start=1)
    ]
    frame = pd.DataFrame(cited, columns=["image_id", "rank", "attribute_id", "phrase", "score"])
    frame["rank"] = frame["rank"].astype(np.int32)
    return frame


def compute(inputs: Inputs, params: ExplanationParams, context: Context, output: StageOutput) -> None:
    """Chunk by chunk of images (their contributions streamed), so memory does not grow with them."""
    vocabulary = vocabulary_of(inputs)
    chosen = split_ids(inputs, params.split)
    pdf = filter_attribute_pdf(inputs, int(inputs.metrics("filter_contributions")["filters"]), len(vocabulary.phrases))
    all_predictions = inputs.read("predictions").set_index("image_id")
    classes = inputs.read("classes")
    class_names = dict(zip(classes["class_id"], classes["name"]))
    first_by_class: dict[int, str] = {}  # the first correct decision's sentence per class
    with output.writer("explanations") as sentences, output.writer("explanation_attributes") as attributes:
        for ids, matrices in vector_chunks(inputs, "filter_contributions", ["contribution"], chosen):
            predictions = all_predictions.loc[ids]
            explained = decisions.explain_decisions(
                matrices["contribution"],
                predictions["predicted_class_id"].to_numpy(),
                pdf,
                vocabulary,
                class_names,
                params.top_k,
                params.min_relative_score,
                inputs.metrics("predictions")["decomposition"],
            )
            sentences.write(_explanation_rows(ids, predictions, explained))
            attributes.write(_cited_rows(ids, explained))
            for item, correct in zip(explained, predictions["correct"].to_numpy()):
                if correct:
                    first_by_class.setdefault(item.predicted_class_id, item.sentence)
    output.metrics.update(explained=len(chosen), examples=example_sentences(first_by_class))


STAGE = StageSpec(
    name="explanations",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=compute,
    reads={
        "filter_attributes": ("filter", "attribute_id", "probability"),
        "filter_contributions": ALL_COLUMNS,
        "predictions": ALL_COLUMNS,
        "attributes": ("attribute_id", "phrase", "noun"),
        "classes": ALL_COLUMNS,
        "images": ("image_id", "split"),
    },
)
