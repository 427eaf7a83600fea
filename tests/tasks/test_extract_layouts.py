"""Extraction's default layout is channels-last for convolutional networks; its tables stay within
2e-3 relative of the contiguous layout's (the two layouts round the convolutions' sums in another
order: differences of ~1e-6 per product that grow through the layers to ~1e-3 at most), and the
layout is part of the stage's key, so the two never share a stored output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from filterspeak.backbones.registry import BackboneSpec
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.vectors import vector_matrix
from stage_runs import run_backbone, run_dataset, run_extract
from tiny_build import TINY, dataset_params

SQUEEZENET = Path(__file__).resolve().parents[3] / "shared" / "models" / "squeezenet1_0-imagenet-deepcompression.pth"
RELATIVE = 2e-3  # of each column's largest magnitude: the bound the issue set on the layouts' difference
NETWORKS = {
    "built-in": (TINY.backbone_spec, ["features.3"], "model"),
    "squeezenet1_0 (ImageNet weights)": (BackboneSpec(architecture="squeezenet1_0", weights=str(SQUEEZENET)), ["features.12"], "none"),
}


def _columns(result) -> dict[str, np.ndarray]:
    """Every float column of extraction's tables, rows by image id."""
    columns = {}
    for table in ("filter_responses", "filter_contributions", "predictions"):
        if not result.has_table(table):
            continue
        frame = result.read_arrow(table).sort_by("image_id")
        for name in frame.column_names:
            if name in ("image_id", "predicted_class_id", "true_class_id", "correct"):
                continue
            column = frame.column(name)
            columns[f"{table}.{name}"] = (
                vector_matrix(column, np.float64) if column.type.num_fields else np.asarray(column, dtype=np.float64)
            )
    return columns


@pytest.mark.parametrize("network", list(NETWORKS))
def test_channels_last_tables_are_within_2e_3_of_contiguous_ones(tmp_path, network):
    spec, layers, head = NETWORKS[network]
    if spec.weights and not SQUEEZENET.is_file():
        pytest.skip(f"needs the shared SqueezeNet weights ({SQUEEZENET})")
    options = TINY.replace(images_per_class=2, backbone=spec.architecture, weights=spec.weights, layer=layers[0])
    paths = StorePaths(tmp_path).ensure()
    dataset = run_dataset(paths, dataset_params(options))
    spec, preprocessing = options.backbone_spec, options.preprocessing
    backbone = run_backbone(paths, dataset, spec, preprocessing)
    outputs = {
        layout: run_extract(paths, dataset, backbone, spec, preprocessing, layers, head, layout=layout)[0]
        for layout in ("auto", "contiguous")
    }
    assert outputs["auto"].manifest.fingerprint != outputs["contiguous"].manifest.fingerprint  # keyed apart
    ours, theirs = _columns(outputs["auto"]), _columns(outputs["contiguous"])
    assert set(ours) == set(theirs) and any(name.startswith("filter_responses") for name in ours)
    changed = 0
    for name, expected in theirs.items():
        scale = np.abs(expected).max()
        difference = np.abs(ours[name] - expected).max()
        assert difference <= RELATIVE * scale, (name, difference, scale)
        print(f"{network} {name}: largest difference {difference / scale:.1e} of the largest value")
        changed += difference > 0
    assert changed  # the layouts really ran differently (channels-last is not a no-op here)
