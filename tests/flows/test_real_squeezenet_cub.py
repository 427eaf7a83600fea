"""The real network on real photos, at CI scale: ImageNet SqueezeNet 1.0 (../shared/models) on a
subset of the cub100 birds (../shared/data/cub100) with derived captions and a trained head."""

from __future__ import annotations

from pathlib import Path

import pytest

from filterspeak.flows.build import build
from filterspeak.options import BuildOptions
from filterspeak.storage.catalog import query
from filterspeak.storage.paths import StorePaths

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
WEIGHTS = SHARED / "models" / "squeezenet1_0-imagenet-deepcompression.pth"
CUB100 = SHARED / "data" / "cub100"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (WEIGHTS.is_file() and CUB100.is_dir()),
        reason="needs ../shared/models/squeezenet1_0-imagenet-deepcompression.pth and ../shared/data/cub100",
    ),
]


def test_squeezenet_on_cub_birds(tmp_path, prefect_harness):
    options = BuildOptions(
        dataset="cub100",
        data_dir=str(CUB100),
        max_images_per_class=3,
        backbone="squeezenet1_0",
        weights=str(WEIGHTS),
        layer="features.12",
        device="cpu",
    )
    report = build(store=str(tmp_path), options=options, progress=False)
    assert "head" in [r.stage for r in report.stages]
    assert report.metrics["filters"] == 512 and report.metrics["decomposition"] == "linear_gap"
    assert report.metrics["test_accuracy"] > 0.05  # 100 classes, 3 training photos each: chance is 0.01
    paths = StorePaths(tmp_path)
    rows = query(
        paths,
        """
        SELECT (SELECT count(*) FROM images) AS images,
               (SELECT count(DISTINCT origin) FROM captions) AS origins,
               (SELECT min(origin) FROM captions) AS origin,
               (SELECT count(*) FROM explanations) AS explained,
               (SELECT count(*) FROM explanations WHERE sentence LIKE '% because it has %') AS with_attributes""",
    ).to_pylist()[0]
    assert rows["images"] == 600 and rows["origins"] == 1 and rows["origin"] == "derived"
    assert rows["explained"] == 300 and rows["with_attributes"] == 300
    weights = query(paths, "SELECT weights_sha256 FROM backbones").to_pylist()[0]["weights_sha256"]
    assert report.backbone == f"squeezenet1_0-{weights[:8]}"
