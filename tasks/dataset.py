"""Stage `dataset`: materialise a dataset's images, classes and captions tables in the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from filterspeak.datasets import image_check, registry
from filterspeak.datasets.registry import DatasetParams
from filterspeak.storage.cache import StageOutput, artifact_hash
from filterspeak.storage.fingerprint import fingerprint
from filterspeak.storage.schemas import ERRORS, I64, STR, table
from filterspeak.tasks.stage import Context, Inputs, StageSpec

TABLES = {
    # `path` says where the pixels are; readers key on the `pixels_hash` metric instead
    "images": table(("image_id", I64), ("split", STR), ("path", STR), ("class_id", I64), location={"path": "pixels_hash"}),
    "classes": table(("class_id", I64), ("name", STR)),
    "captions": table(("caption_id", I64), ("image_id", I64), ("text", STR), ("origin", STR)),
    "image_truth": table(("image_id", I64), ("part", STR), ("phrase", STR), ("kind", STR)),
    "class_definitions": table(("class_id", I64), ("part", STR), ("phrase", STR)),
    # --confusable-pairs: each twin species, its base, and the one attribute that tells them apart
    "planted_confusions": table(("twin_class_id", I64), ("base_class_id", I64), ("part", STR), ("base_phrase", STR), ("twin_phrase", STR)),
    "errors": ERRORS,
}


def _or_empty(frame: pd.DataFrame | None, name: str) -> pd.DataFrame:
    return frame if frame is not None else registry.empty_frame(TABLES[name].names)


def usable_images(images: pd.DataFrame, check_files: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(images that can be used, error rows): a repeated image_id keeps its first row; missing,
    empty, truncated or non-image files are skipped, so no later stage meets them."""
    images = images.sort_values("image_id", kind="stable").reset_index(drop=True)
    repeated = images["image_id"].duplicated()
    rows = [
        {"item": f"image {i} ({p})", "reason": "duplicate image id"}
        for i, p in zip(images.loc[repeated, "image_id"], images.loc[repeated, "path"])
    ]
    images = images[~repeated].reset_index(drop=True)
    if check_files:
        reasons = image_check.check_images(images["path"].tolist())
        bad = [reason is not None for reason in reasons]
        rows += [{"item": f"image {i} ({p})", "reason": r} for i, p, r, b in zip(images["image_id"], images["path"], reasons, bad) if b]
        images = images[[not b for b in bad]].reset_index(drop=True)
    return images, pd.DataFrame(rows, columns=["item", "reason"])


def params_from(options, inputs: Inputs | None = None) -> DatasetParams:
    """The chosen dataset with the build options it declares."""
    declared = registry.DATASETS[options.dataset].options
    return DatasetParams.of(options.dataset, options.max_images_per_class, **{option: getattr(options, option) for option in declared})


def source_key(params: DatasetParams) -> str:
    """The dataset's files outside the store (a listing with sizes and times), for the cache key."""
    return fingerprint(registry.source_signature(params))


def compute(inputs: Inputs, params: DatasetParams, context: Context, output: StageOutput) -> None:
    work_dir = output.directory / "dataset"
    loaded = registry.load_dataset(params, work_dir, progress=context.progress)
    generated = registry.DATASETS[params.name].generated
    images, image_errors = usable_images(loaded.images, check_files=not generated)
    for name, path in loaded.artifacts.items():
        output.file(name, str(path.relative_to(output.directory)))
    if generated:  # files in the store: named relative to this output (StageResult.located)
        images["path"] = [Path(p).relative_to(output.directory).as_posix() for p in images["path"]]
    pixels = artifact_hash(output.directory, output.files["images"]) if "images" in loaded.artifacts else source_key(params)
    output.metrics.update(pixels_hash=pixels)
    output.write("images", images)
    output.write("classes", loaded.classes)
    output.write("captions", loaded.captions[loaded.captions["image_id"].isin(set(images["image_id"]))])  # of usable images
    output.write("image_truth", _or_empty(loaded.image_truth, "image_truth"))
    output.write("class_definitions", _or_empty(loaded.class_definitions, "class_definitions"))
    output.write("planted_confusions", _or_empty(loaded.planted_confusions, "planted_confusions"))
    errors = pd.concat([_or_empty(loaded.errors, "errors"), image_errors], ignore_index=True)
    output.write("errors", errors)
    output.metrics.update(
        dataset=params.name,
        images=len(images),
        train_images=int(np.sum(images["split"] == "train")),
        classes=len(loaded.classes),
        captions=len(loaded.captions),
        caption_origin=sorted(set(loaded.captions["origin"])),
        errors=len(errors),
    )


STAGE = StageSpec(name="dataset", module=__name__, reads={}, writes=TABLES, params=params_from, compute=compute, external=source_key)
