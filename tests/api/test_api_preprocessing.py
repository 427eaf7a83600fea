"""Preprocessing is the source's own unless overridden, declared once (BuildOptions: input_size,
resize, interpolation, mean, std); a 448 px build of a torchvision model extracts 448 px maps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import filterspeak as fs
from filterspeak.backbones.registry import IMAGENET_PREPROCESSING, Preprocessing
from filterspeak.errors import OptionError
from filterspeak.options import BuildOptions
from tiny_build import TINY, parameters

SQUEEZENET = {"backbone": "squeezenet1_0", "layer": "features.12"}
WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "models" / "squeezenet1_0-imagenet-deepcompression.pth"  # real ImageNet weights


def test_the_options_override_the_sources_preprocessing():
    assert BuildOptions(**SQUEEZENET).preprocessing == IMAGENET_PREPROCESSING
    assert BuildOptions(**SQUEEZENET, input_size=448).preprocessing == Preprocessing(
        448, 512, IMAGENET_PREPROCESSING.mean, IMAGENET_PREPROCESSING.std
    )
    assert BuildOptions(**SQUEEZENET, input_size=448, resize=480).preprocessing.resize == 480
    assert BuildOptions(**SQUEEZENET, input_size=448, resize=0).preprocessing.resize is None  # straight to 448 × 448
    custom = BuildOptions(**SQUEEZENET, interpolation="bicubic", mean="0.5,0.5,0.5", std="0.25,0.25,0.25").preprocessing
    assert (custom.interpolation, custom.mean, custom.std) == ("bicubic", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert BuildOptions(input_size=48).preprocessing == Preprocessing(48)  # the built-in: scaled straight to its input
    for bad in ({"std": "0.2,0,0.2"}, {"mean": "red"}, {"interpolation": "lanczos"}):
        with pytest.raises(OptionError, match="--" + next(iter(bad))):
            BuildOptions(**bad).check()


def test_bilinear_keeps_the_fingerprints_of_stages_stored_before_interpolation_was_an_option():
    assert "interpolation" not in IMAGENET_PREPROCESSING.to_dict()
    assert IMAGENET_PREPROCESSING.overridden(interpolation="bicubic").to_dict()["interpolation"] == "bicubic"


@pytest.mark.slow
def test_a_448_px_build_of_a_torchvision_model_extracts_maps_of_that_size(tmp_path):
    options = {name: value for name, value in parameters(TINY).items() if name not in ("width", "epochs")}
    build = fs.Store(tmp_path / "S").build(
        "squeezenet1_0",
        weights=str(WEIGHTS),
        layer="features.12",
        input_size=448,
        max_images_per_class=2,
        progress=False,
        report=False,
        **options,
    )
    recorded = json.loads(build.view.read("backbones")["parameters"][0])["preprocessing"]
    assert (recorded["image_size"], recorded["resize"]) == (448, 512)  # resize scaled with the crop: 256/224 of it
    maps = build.view.read("feature_maps", ["map_height", "map_width"])
    network = build.model()
    with torch.no_grad():
        expected = {size: tuple(network.features(torch.zeros(1, 3, size, size)).shape[2:]) for size in (224, 448)}
    assert expected == {224: (13, 13), 448: (27, 27)}  # SqueezeNet 1.0's features.12
    assert set(zip(maps["map_height"], maps["map_width"])) == {expected[448]}
    file = build.view.table_result("images").located(build.view.read("images")["path"].tolist()[:1])[0]
    assert build.explain(file).image.shape == (448, 448, 3)
