"""Stage `failures`: the test errors, and per confused pair of classes the attributes that tell
them apart (the math: filterspeak/interpret/failures.py). Read with `filterspeak failures` or SQL
(`failures`, `confusions`, `confusion_attributes`; the views `failures_named`, `confusions_named`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from filterspeak.interpret import failures
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.schemas import BACKBONE_LAYER, F64, I32, I64, STR, table
from filterspeak.tasks.readers import attribute_score_matrix, split_ids
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {
    # one row per misclassified image: what pushed the decision toward the predicted class (the
    # sentence's cited attributes, p(a|x,ĉ)) and what the true class usually shows that it lacks
    "failures": table(
        ("image_id", I64),
        ("true_class_id", I64),
        ("predicted_class_id", I64),
        ("probability", F64),
        ("for_predicted", pa.list_(STR)),
        ("for_predicted_scores", pa.list_(F64)),
        ("missing_from_true", pa.list_(STR)),
        ("missing_from_true_scores", pa.list_(F64)),
        partition=BACKBONE_LAYER,
    ),
    "confusions": table(
        ("true_class_id", I64),
        ("predicted_class_id", I64),
        ("count", I64),
        ("rate", F64),  # of the true class's evaluated images
        ("sentence", STR),
        partition=BACKBONE_LAYER,
    ),
    "confusion_attributes": table(
        ("true_class_id", I64),
        ("predicted_class_id", I64),
        ("rank", I32),
        ("attribute_id", I64),
        ("phrase", STR),
        ("score", F64),
        ("direction", STR),  # for_predicted | missing_from_true
        partition=BACKBONE_LAYER,
    ),
}


@dataclass(frozen=True)
class FailureParams:
    top_attributes: int = 5  # attributes kept per confusion and per failure
    sentence_attributes: int = 3  # of which a confusion's sentence cites (--sentence-attributes)
    split: str = "test"

    def to_dict(self) -> dict:
        return asdict(self)


def params_from(options, inputs: Inputs | None = None) -> FailureParams:
    return FailureParams(sentence_attributes=options.sentence_attributes)


def _cited(inputs: Inputs, image_ids: np.ndarray) -> dict[int, tuple[list[str], list[float]]]:
    """image -> (phrases, scores) its sentence cites, in rank order."""
    cited = inputs.read("explanation_attributes", ["image_id", "rank", "phrase", "score"])
    cited = cited[cited["image_id"].isin(image_ids)].sort_values(["image_id", "rank"])
    return {int(i): (group["phrase"].tolist(), group["score"].tolist()) for i, group in cited.groupby("image_id")}


@dataclass(frozen=True)
class Errors:
    """The misclassified images of a split with their p(a|x), and the class profiles they are
    compared with: what the stage writes from, and what the evaluation ranks planted pairs from."""

    phrases: list[str]
    profiles: failures.ClassProfiles
    wrong: pd.DataFrame  # the predictions of the misclassified images, indexed by image_id
    scores: np.ndarray  # (len(wrong), A) their p(a|x)

    def of_pair(self, true_class: int, predicted_class: int) -> np.ndarray:
        """p(a|x) of the errors that took `true_class` for `predicted_class`."""
        chosen = (self.wrong["true_class_id"] == true_class) & (self.wrong["predicted_class_id"] == predicted_class)
        return self.scores[chosen.to_numpy()]

    def counts(self) -> dict[tuple[int, int], int]:
        """(true, predicted) -> errors."""
        sizes = self.wrong.groupby(["true_class_id", "predicted_class_id"]).size()
        return {(int(t), int(p)): int(n) for (t, p), n in sizes.items()}


def errors_of(source, split: str) -> Errors:
    """`Errors` of `split` from anything with `read` (a stage's inputs, a finished build)."""
    phrases = source.read("attributes", ["attribute_id", "phrase"]).sort_values("attribute_id")["phrase"].tolist()
    images = source.read("images", ["image_id", "split", "class_id"]).set_index("image_id")
    train_ids = split_ids(source, "train")
    profiles = failures.ClassProfiles.of(
        attribute_score_matrix(source, train_ids, len(phrases)),
        images.loc[train_ids, "class_id"].to_numpy(),
        len(source.read("classes", ["class_id"])),
    )
    predictions = source.read("predictions").set_index("image_id").loc[split_ids(source, split)]
    wrong = predictions[~predictions["correct"]]
    return Errors(phrases, profiles, wrong, attribute_score_matrix(source, wrong.index.to_numpy(), len(phrases)))


def compute(inputs: Inputs, params: FailureParams, context: Context, output: StageOutput) -> None:
    errors = errors_of(inputs, params.split)
    phrases, profiles, wrong, wrong_scores = errors.phrases, errors.profiles, errors.wrong, errors.scores
    classes = inputs.read("classes")
    names = dict(zip(classes["class_id"], classes["name"]))
    images = inputs.read("images", ["image_id", "split", "class_id"]).set_index("image_id")
    evaluated = split_ids(inputs, params.split)
    cited = _cited(inputs, wrong.index.to_numpy())

    rows = []
    for row, (image_id, item) in enumerate(wrong.iterrows()):
        shown, shown_scores = cited.get(int(image_id), ([], []))
        lacked = failures.missing_attributes(profiles, int(item["true_class_id"]), wrong_scores[row], phrases, params.top_attributes)
        true_class, predicted_class, probability = int(item["true_class_id"]), int(item["predicted_class_id"]), float(item["probability"])
        rows.append(
            (
                int(image_id),
                true_class,
                predicted_class,
                probability,
                shown,
                shown_scores,
                [a.phrase for a in lacked],
                [a.score for a in lacked],
            )
        )
    output.write("failures", pd.DataFrame(rows, columns=TABLES["failures"].names))

    tested = np.bincount(images.loc[evaluated, "class_id"].to_numpy(), minlength=len(classes))
    pairs, ranked_rows = [], []
    for (true_class, predicted_class), count in sorted(errors.counts().items(), key=lambda item: (-item[1], item[0])):
        ranked = failures.distinguishing_attributes(
            profiles, true_class, predicted_class, errors.of_pair(true_class, predicted_class), phrases, params.top_attributes
        )
        rate = count / max(int(tested[true_class]), 1)
        sentence = failures.confusion_sentence(names[true_class], names[predicted_class], count, rate, ranked, params.sentence_attributes)
        pairs.append((true_class, predicted_class, count, rate, sentence))
        ranked_rows += [(true_class, predicted_class, k, a.attribute_id, a.phrase, a.score, a.direction) for k, a in enumerate(ranked, 1)]
    output.write("confusions", pd.DataFrame(pairs, columns=TABLES["confusions"].names))
    attributes = pd.DataFrame(ranked_rows, columns=TABLES["confusion_attributes"].names)
    attributes["rank"] = attributes["rank"].astype(np.int32)
    output.write("confusion_attributes", attributes)
    output.metrics.update(evaluated=len(evaluated), errors=len(wrong), confused_pairs=len(pairs))


STAGE = StageSpec(
    name="failures",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=compute,
    reads={
        "image_attribute_scores": ALL_COLUMNS,
        "explanation_attributes": ALL_COLUMNS,
        "predictions": ALL_COLUMNS,
        "attributes": ("attribute_id", "phrase"),
        "classes": ALL_COLUMNS,
        "images": ("image_id", "split", "class_id"),
    },
)
