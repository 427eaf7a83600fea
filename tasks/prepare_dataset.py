"""Stage `dataset`: materialise a dataset's images, classes and captions tables in the store."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from filterspeak.datasets import (
    base, cub, cub_attributes, folder, image_check, registry, synthetic, synthetic_captions, synthetic_render, synthetic_spec,
)
from filterspeak.datasets.registry import DatasetParams
from filterspeak.storage.cache import StageOutput, StageResult, artifact_hash, run_stage
from filterspeak.storage.fingerprint import code_version, fingerprint
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import schema_for

STAGE = "dataset"
# What downstream stages key on in `images`: not `path`, which moves with the store; the
# pixels are keyed separately through the `pixels_hash` metric.
IMAGE_KEY_COLUMNS = ["image_id", "split", "class_id"]

__all__ = ["DatasetParams", "IMAGE_KEY_COLUMNS", "prepare_dataset"]


def _or_empty(frame: pd.DataFrame | None, table: str) -> pd.DataFrame:
    return frame if frame is not None else registry.empty_frame(schema_for(table).names)


def usable_images(images: pd.DataFrame, check_files: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(images that can be used, error rows): a repeated image_id keeps its first row; missing,
    empty, truncated or non-image files are skipped, so no later stage meets them."""
    images = images.sort_values("image_id", kind="stable").reset_index(drop=True)
    repeated = images["image_id"].duplicated()
    rows = [{"item": f"image {i} ({p})", "reason": "duplicate image id"} for i, p in zip(images.loc[repeated, "image_id"], images.loc[repeated, "path"])]
    images = images[~repeated].reset_index(drop=True)
    if check_files:
        reasons = image_check.check_images(images["path"].tolist())
        bad = [reason is not None for reason in reasons]
        rows += [{"item": f"image {i} ({p})", "reason": r} for i, p, r, b in zip(images["image_id"], images["path"], reasons, bad) if b]
        images = images[[not b for b in bad]].reset_index(drop=True)
    return images, pd.DataFrame(rows, columns=["item", "reason"])


def prepare_dataset(paths: StorePaths, params: DatasetParams, progress: bool = True) -> StageResult:
    inputs = {
        "params": params.to_dict(),
        "source": fingerprint(registry.source_signature(params)),
        "code": code_version(
            sys.modules[__name__], registry, base, cub, cub_attributes, folder, image_check, synthetic, synthetic_spec, synthetic_render,
            synthetic_captions,
        ),
    }

    def compute(output: StageOutput) -> None:
        work_dir = output.directory / "dataset"
        loaded = registry.load_dataset(params, work_dir, progress=progress)
        images, image_errors = usable_images(loaded.images, check_files=params.name not in registry.GENERATED)
        final_root = output.final_directory / "dataset"
        for name, path in loaded.artifacts.items():
            output.file(name, str(path.relative_to(output.directory)))
        if params.name in registry.GENERATED:  # files live in the store: point at their final place
            images["path"] = [str(final_root / Path(p).relative_to(work_dir)) for p in images["path"]]
        output.write("images", images)
        output.write("classes", loaded.classes)
        output.write("captions", loaded.captions[loaded.captions["image_id"].isin(set(images["image_id"]))])  # of usable images
        output.write("image_truth", _or_empty(loaded.image_truth, "image_truth"))
        output.write("class_definitions", _or_empty(loaded.class_definitions, "class_definitions"))
        errors = pd.concat([_or_empty(loaded.errors, "errors"), image_errors], ignore_index=True)
        output.write("errors", errors, {"stage": STAGE})
        pixels = (
            artifact_hash(output.directory, output.files["images"]) if "images" in loaded.artifacts
            else inputs["source"]
        )
        output.metrics.update(
            dataset=params.name,
            images=len(images),
            train_images=int(np.sum(images["split"] == "train")),
            classes=len(loaded.classes),
            captions=len(loaded.captions),
            caption_origin=sorted(set(loaded.captions["origin"])),
            pixels_hash=pixels,
            errors=len(errors),
        )

    return run_stage(paths, STAGE, inputs, compute)

