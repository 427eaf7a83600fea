"""Stage `cooccurrence`: Σ_x p(x|f) p(a|x) for every (filter, attribute), computed in DuckDB."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Literal

from filterspeak.sql import load_sql
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.duckdb_session import parquet_views, run_sql_file
from filterspeak.storage.fingerprint import code_version, fingerprint
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS

STAGE = "cooccurrence"


@dataclass(frozen=True)
class CooccurrenceParams:
    response: Literal["max", "mean"] = "max"  # s_f(x): spatial max or mean of the feature map
    top_k: int = 0  # images kept per filter for p(x|f); 0 (the default, chosen in docs/evaluation.md) keeps every train image

    def to_dict(self) -> dict:
        return asdict(self)


def count_cooccurrence(
    paths: StorePaths,
    dataset: StageResult,
    captions: StageResult,
    extraction: StageResult,
    params: CooccurrenceParams,
) -> StageResult:
    if params.response not in ("max", "mean"):
        raise ValueError(f"response must be 'max' or 'mean', got {params.response!r}")
    if params.top_k < 0:
        raise ValueError("top_k must be >= 0 (0 keeps all images)")
    inputs = {
        "activations": extraction.table_hash("activations"),
        "image_attributes": captions.table_hash("image_attributes"),
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "params": params.to_dict(),
        "code": code_version(sys.modules[__name__]) + fingerprint(load_sql("cooccurrence")),
    }
    partition = {"backbone": extraction.metrics["backbone"], "layer": extraction.metrics["layer"]}

    def compute(output: StageOutput) -> None:
        tables = {
            "activations": extraction.table_path("activations"),
            "image_attributes": captions.table_path("image_attributes"),
            "images": dataset.table_path("images"),
        }
        with parquet_views(tables) as connection:
            result = run_sql_file(connection, "cooccurrence", {"response": params.response, "top_k": params.top_k})
        output.write("cooccurrence", result, partition)
        output.metrics.update(pairs=result.num_rows)

    return run_stage(paths, STAGE, inputs, compute)
