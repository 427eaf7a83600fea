"""Running single stages in tests, through the stage API (no Prefect, no build flow)."""

from __future__ import annotations

import numpy as np

from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.datasets.registry import DatasetParams
from filterspeak.storage.cache import StageResult
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import F32, F64
from filterspeak.tasks import backbone as backbone_stage
from filterspeak.tasks import captions as captions_stage
from filterspeak.tasks import dataset as dataset_stage
from filterspeak.tasks import extract as extract_stage
from filterspeak.tasks.stage import Context, Inputs, run


def run_dataset(paths: StorePaths, params: DatasetParams) -> StageResult:
    return run(dataset_stage.STAGE, paths, Inputs.of(), params, Context(progress=False))


def run_captions(paths: StorePaths, dataset: StageResult, params: captions_stage.CaptionParams) -> StageResult:
    return run(captions_stage.STAGE, paths, Inputs.of(dataset), params, Context(progress=False))


def run_backbone(
    paths: StorePaths, dataset: StageResult, spec: BackboneSpec, preprocessing: Preprocessing, device: str = "cpu"
) -> StageResult:
    params = backbone_stage.BackboneParams(spec, preprocessing)
    return run(backbone_stage.STAGE, paths, Inputs.of(dataset), params, Context(spec.name, device=device, progress=False))


def run_extract(
    paths: StorePaths,
    dataset: StageResult,
    backbone: StageResult,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    layers: list[str],
    head: str = "model",
    device: str = "cpu",
    batch_size: int = extract_stage.BATCH_SIZE,
    loader_workers: int | None = None,
    layout: str = "auto",
) -> list[StageResult]:
    params = extract_stage.ExtractParams(spec, preprocessing, head, layout)
    context = Context(spec.name, device=device, progress=False, loader_workers=loader_workers)
    return extract_stage.extract_layers(paths, Inputs.of(dataset, backbone), params, layers, context, batch_size)


def stored_tables(
    paths: StorePaths, stage: str, frames: dict, declared: dict, partition: dict | None = None, metrics: dict | None = None
) -> StageResult:
    """A stage output holding hand-made tables (and metrics): upstream input for one stage's test."""
    from filterspeak.storage.cache import run_stage
    from filterspeak.storage.fingerprint import fingerprint

    def compute(output):
        for name, frame in frames.items():
            output.write(name, frame)
        output.metrics.update(metrics or {})

    import pandas as pd

    def content_hash(frame) -> str:
        if isinstance(frame, pd.DataFrame):
            return str(int(pd.util.hash_pandas_object(frame, index=False).sum() % (1 << 62)))
        return fingerprint(repr(frame.to_pydict()))  # an Arrow table (list columns)

    content = {name: content_hash(frame) for name, frame in frames.items()}
    return run_stage(paths, stage, {"frames": content, "metrics": metrics or {}}, compute, declared, partition)


# A co-occurrence case small enough to compute by hand: four train images (and one test image),
# two filters, two attributes.
#   max responses  f0: 1, 2, 0, 0     f1: 0, 1, 3, 0     (mean responses: half of these)
#   p(a|x)         x1: a0=1   x2: a0=.5 a1=.5   x3: a1=1   x4: a1=1
HAND_RESPONSES = {0: [1.0, 2.0, 0.0, 0.0], 1: [0.0, 1.0, 3.0, 0.0]}
HAND_IMAGE_ATTRIBUTES = [(1, 0, 1.0), (2, 0, 0.5), (2, 1, 0.5), (3, 1, 1.0), (4, 1, 1.0)]


def per_filter_table(image_ids: np.ndarray, columns: dict[str, np.ndarray], value_type):
    """A per-filter vector table (storage/vectors.py) from (images, filters) matrices."""
    import pyarrow as pa

    from filterspeak.storage.vectors import vector_column

    return pa.table({"image_id": pa.array(image_ids, pa.int64()), **{c: vector_column(m, value_type) for c, m in columns.items()}})


def hand_made_upstream(paths: StorePaths) -> list[StageResult]:
    """The dataset, captions and extraction outputs of the hand-made case."""
    import pandas as pd

    from filterspeak.interpret.response_stats import ResponseStats
    from filterspeak.interpret.responses import RESPONSES
    from filterspeak.storage.schemas import BACKBONE_LAYER

    responses = np.array([HAND_RESPONSES[f] for f in sorted(HAND_RESPONSES)]).T  # (image, filter)
    # every declared response other than max: half the max (the same p(x|f))
    columns = {response.column: responses / (1 if response.name == "max" else 2) for response in RESPONSES.values()}
    filter_responses = per_filter_table(np.arange(1, len(responses) + 1), columns, F32)
    stats = ResponseStats()
    stats.add(np.array(["train"] * len(responses)), {c: m.astype(np.float32) for c, m in columns.items()})
    image_attributes = pd.DataFrame(HAND_IMAGE_ATTRIBUTES, columns=["image_id", "attribute_id", "probability"])
    image_attributes["count"] = 1
    images = pd.DataFrame({"image_id": [1, 2, 3, 4, 5], "split": ["train"] * 4 + ["test"], "path": "x", "class_id": 0})
    partition = dict(zip(BACKBONE_LAYER, ("net", "layer")))
    return [
        stored_tables(paths, "dataset", {"images": images}, dataset_stage.TABLES, metrics={"pixels_hash": "none"}),
        stored_tables(paths, "captions", {"image_attributes": image_attributes}, captions_stage.TABLES),
        stored_tables(
            paths,
            "extract",
            {"filter_responses": filter_responses, "response_stats": stats.table()},
            extract_stage.TABLES,
            partition,
            {"filters": 2},
        ),
    ]


def hand_made_cooccurrence(root, top_k: int, response: str = "max", shards=None):
    """The co-occurrence stage on the hand-made case, as a dense (filters, attributes) matrix
    (`shards`: a ShardRunner for its ranges, as on a cluster)."""
    from filterspeak.interpret.filter_pdfs import dense_matrix
    from filterspeak.tasks import cooccurrence as cooccurrence_stage

    paths = StorePaths(root).ensure()
    params = cooccurrence_stage.CooccurrenceParams(response=response, top_k=top_k)
    result = run(
        cooccurrence_stage.STAGE,
        paths,
        Inputs.of(*hand_made_upstream(paths)),
        params,
        Context("net", "layer", progress=False, shards=shards),
    )
    return dense_matrix(result.read("cooccurrence"), 2, 2, "filter", "attribute_id", "cooccurrence")


HAND_PHRASES = [("red crown", "red", "crown"), ("black wing", "black", "wing")]
HAND_CONTRIBUTIONS = {5: [0.0, 2.0], 1: [1.0, 0.0], 2: [2.0, 0.5], 3: [0.0, 3.0], 4: [0.0, 0.0]}  # α (image -> per filter)


def hand_made_decided(paths: StorePaths) -> list[StageResult]:
    """The hand-made case with attributes, classes, and decisions by a linear head W = identity
    (class c is filter c's), as extraction with the model's own GAP + linear head writes them."""
    import pandas as pd

    from filterspeak.storage.schemas import BACKBONE_LAYER
    from filterspeak.tasks import decisions

    dataset, captions, extraction = hand_made_upstream(paths)
    attributes = pd.DataFrame(
        [(a, phrase, modifier, noun, 2, prior) for a, ((phrase, modifier, noun), prior) in enumerate(zip(HAND_PHRASES, [0.375, 0.625]))],
        columns=["attribute_id", "phrase", "modifier", "noun", "document_frequency", "prior"],
    )
    classes = pd.DataFrame({"class_id": [0, 1], "name": ["Cardinal", "Crow"]})
    images = pd.DataFrame({"image_id": [1, 2, 3, 4, 5], "split": ["train"] * 4 + ["test"], "path": "x", "class_id": [0, 0, 1, 1, 1]})
    contributions = per_filter_table(
        np.array(sorted(HAND_CONTRIBUTIONS)), {"contribution": np.array([HAND_CONTRIBUTIONS[i] for i in sorted(HAND_CONTRIBUTIONS)])}, F64
    )
    predicted = {image: int(max(range(2), key=lambda f: values[f])) for image, values in HAND_CONTRIBUTIONS.items()}
    predictions = pd.DataFrame(
        {
            "image_id": [1, 2, 3, 4, 5],
            "predicted_class_id": [predicted[i] for i in range(1, 6)],
            "true_class_id": [0, 0, 1, 1, 1],
            "probability": 0.9,
            "logit": 1.0,
        }
    )
    predictions["correct"] = predictions["predicted_class_id"] == predictions["true_class_id"]
    head_weights = pd.DataFrame({"class_id": [0, 0, 1, 1], "filter": [0, 1, 0, 1], "weight": [1.0, 0.0, 0.0, 1.0]})
    partition = dict(zip(BACKBONE_LAYER, ("net", "layer")))
    dataset = stored_tables(
        paths, "dataset", {"images": images, "classes": classes}, dataset_stage.TABLES, metrics={"pixels_hash": "none", "classes": 2}
    )
    captions = stored_tables(
        paths, "captions", {"attributes": attributes, "image_attributes": captions.read("image_attributes")}, captions_stage.TABLES
    )
    decided = stored_tables(
        paths,
        "extract",
        {
            "filter_responses": extraction.read_arrow("filter_responses"),
            "response_stats": extraction.read("response_stats"),
            "predictions": predictions,
            "filter_contributions": contributions,
            "head_weights": head_weights,
            "head_bias": pd.DataFrame({"class_id": [0, 1], "bias": [0.0, 0.0]}),
        },
        {**extract_stage.TABLES, **decisions.TABLES},
        partition,
        {"filters": 2, "decomposition": "linear_gap"},
    )
    return [dataset, captions, decided]
