"""The dataset stage is keyed on the chosen dataset and the build options that dataset declares it
takes, nothing else: another dataset's options leave its key alone."""

from __future__ import annotations

import pytest

from filterspeak.datasets.registry import DATASETS, DatasetParams, load_dataset
from filterspeak.errors import OptionError
from filterspeak.options import BuildOptions
from filterspeak.tasks.dataset import params_from


def test_a_dataset_is_keyed_on_its_declared_options_only():
    cub = params_from(BuildOptions(dataset="cub", data_dir="/data/cub", num_classes=12, captions="c.jsonl"))
    assert cub.to_dict() == {"name": "cub", "data_dir": "/data/cub", "max_images_per_class": None}
    synthetic = params_from(BuildOptions(num_classes=12, max_images_per_class=3))
    assert synthetic.to_dict() == {
        "name": "synthetic",
        "dataset_seed": 0,
        "num_classes": 12,
        "images_per_class": 200,
        "image_size": 64,
        "confusable_pairs": 0,
        "max_images_per_class": 3,
    }
    folder = params_from(BuildOptions(dataset="folder", data_dir="d", captions="c.csv", caption_format="csv", image_size=96))
    assert folder.to_dict() == {
        "name": "folder",
        "data_dir": "d",
        "captions": "c.csv",
        "caption_format": "csv",
        "max_images_per_class": None,
    }
    for name, source in DATASETS.items():
        declared = params_from(BuildOptions(dataset=name, data_dir="d"))
        assert [option for option, _ in declared.settings] == list(source.options)


def test_an_option_the_dataset_does_not_take_is_refused_in_one_line():
    with pytest.raises(OptionError) as raised:
        DatasetParams.of("cub", data_dir="d", num_clases=3)
    assert str(raised.value) == "dataset 'cub' takes data_dir, max_images_per_class; not 'num_clases'"
    with pytest.raises(OptionError, match="did you mean 'num_classes'"):
        DatasetParams.of("synthetic", num_clases=12)


def test_the_synthetic_dataset_is_drawn_with_its_settings(tmp_path):
    loaded = load_dataset(DatasetParams.of("synthetic", num_classes=12, images_per_class=2, image_size=32), tmp_path, progress=False)
    assert len(loaded.classes) == 12 and len(loaded.images) == 24
    assert loaded.images.groupby("class_id").size().eq(2).all()
