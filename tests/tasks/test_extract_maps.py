"""Extraction keeps every image's feature maps (8 bits per value): the report draws them instead
of running the network again, so they must be the network's own maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filterspeak.backbones import features
from filterspeak.backbones.images import load_images
from filterspeak.backbones.loading import load_model
from filterspeak.backbones.quantised_maps import LEVELS, dequantise
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.stored_maps import map_arrays
from stage_runs import run_backbone, run_dataset, run_extract
from tiny_build import dataset_params

SPEC = BackboneSpec(architecture="crash_backbone:build")
PREPROCESSING = Preprocessing(image_size=64)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    paths = StorePaths(tmp_path_factory.mktemp("maps")).ensure()
    dataset = run_dataset(paths, dataset_params())  # the tiny build's
    backbone = run_backbone(paths, dataset, SPEC, PREPROCESSING, device="cpu")
    results = run_extract(paths, dataset, backbone, SPEC, PREPROCESSING, ["2", "4"], batch_size=16)
    return dataset, backbone, results


@pytest.mark.parametrize("position, layer", [(0, "2"), (1, "4")])
def test_stored_maps_are_the_networks_maps_of_every_image(extracted, position, layer):
    dataset, backbone, results = extracted
    stored = results[position].read_arrow("feature_maps").sort_by("image_id")
    images = dataset.read("images").sort_values("image_id")
    assert stored["image_id"].to_pylist() == images["image_id"].tolist()  # every image, once

    model = load_model(SPEC, backbone.file_path("weights") if SPEC.trainable else None, backbone.metrics["num_outputs"]).eval()
    batch = load_images(dataset.located(images["path"].tolist()), PREPROCESSING.image_size, PREPROCESSING.resize)
    with torch.no_grad():
        maps = features.forward_to_layer(model, layer, batch, PREPROCESSING, torch.device("cpu")).feature_maps.numpy()
    back = dequantise(*map_arrays(stored))
    assert back.shape == maps.shape
    span = maps.max(axis=(2, 3)) - maps.min(axis=(2, 3))
    assert np.all(np.abs(back - maps).max(axis=(2, 3)) <= span / (2 * LEVELS) + 1e-5)
    # and they agree with the responses stored beside them: the max response is the map's peak
    responses = results[position].read_arrow("filter_responses").sort_by("image_id")
    peaks = np.stack(responses["max_response"].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(back.max(axis=(2, 3)), peaks, rtol=1e-5, atol=1e-6)
