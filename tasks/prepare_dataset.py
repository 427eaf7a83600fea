"""Stage `dataset`: materialise a dataset's images, classes and captions tables in the store."""

from __future__ import annotations

import sys

from dataclasses import asdict, dataclass, field

import numpy as np

from filterspeak.datasets import synthetic, synthetic_captions, synthetic_render, synthetic_spec
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths

STAGE = "dataset"
DATASETS = ("synthetic",)
# What downstream stages key on in `images`: not `path`, which moves with the store; the
# pixels are keyed separately through the "images" file hash.
IMAGE_KEY_COLUMNS = ["image_id", "split", "class_id"]


@dataclass(frozen=True)
class DatasetParams:
    name: str = "synthetic"
    synthetic: synthetic.SyntheticConfig = field(default_factory=synthetic.SyntheticConfig)

    def to_dict(self) -> dict:
        return {"name": self.name, "synthetic": asdict(self.synthetic)}


def prepare_dataset(paths: StorePaths, params: DatasetParams, progress: bool = True) -> StageResult:
    if params.name not in DATASETS:
        raise ValueError(f"unknown dataset {params.name!r}; available: {', '.join(DATASETS)}")
    inputs = {
        "params": params.to_dict(),
        "code": code_version(sys.modules[__name__], synthetic, synthetic_spec, synthetic_render, synthetic_captions),
    }

    def compute(output: StageOutput) -> None:
        output.file("images", "dataset/images")
        output.file("masks", "dataset/masks.npz")
        generated = synthetic.generate_synthetic(params.synthetic, output.directory / "dataset", progress=progress)
        images = generated.images.copy()
        final_root = output.final_directory / "dataset"
        images["path"] = [str(final_root / relative) for relative in images["path"]]
        output.write("images", images)
        output.write("classes", generated.classes)
        output.write("captions", generated.captions)
        output.write("image_truth", generated.image_truth)
        output.write("class_definitions", generated.class_definitions)
        output.metrics.update(
            images=len(images),
            train_images=int(np.sum(images["split"] == "train")),
            classes=len(generated.classes),
            captions=len(generated.captions),
        )

    return run_stage(paths, STAGE, inputs, compute)
