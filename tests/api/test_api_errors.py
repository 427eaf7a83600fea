"""Bad input to the Python API: one line (a FilterSpeakError) before any work, and nothing written."""

from __future__ import annotations

import pytest
import torch

import filterspeak as fs
from filterspeak.backbones import in_memory
from tiny_net import LAYER, TinyNet


def _refused(tmp_path, match: str, model=None, **options) -> None:
    store = tmp_path / "S"
    with pytest.raises(fs.FilterSpeakError, match=match) as raised:
        fs.Store(store).build(TinyNet() if model is None else model, progress=False, **options)
    assert "\n" not in str(raised.value)
    assert not store.exists()  # nothing written


def test_a_layer_the_module_lacks_lists_the_valid_names(tmp_path):
    _refused(tmp_path, r"layer 'features\.9' not found; valid layers: features, features\.0, features\.1, .*, fc$", layer="features.9")


def test_a_layer_that_gives_no_feature_maps(tmp_path):
    _refused(tmp_path, r"layer 'fc' outputs \(1, 12\), not \(batch, filters, height, width\) feature maps", layer="fc")


def test_an_in_memory_model_on_dask(tmp_path):
    _refused(tmp_path, r"--dask cannot run an in-memory model", layer=LAYER, dask="tcp://127.0.0.1:9")


def test_unknown_options_and_bad_preprocessing(tmp_path):
    _refused(tmp_path, r"unknown build option 'estimater'; did you mean 'estimator'\?", layer=LAYER, estimater="em")
    _refused(tmp_path, r"--mean takes three numbers", layer=LAYER, mean="0.5,0.5")
    with pytest.raises(fs.FilterSpeakError, match=r"preprocessing takes image_size, resize, interpolation, mean, std; not crop"):
        fs.Store(tmp_path / "S").build(TinyNet(), layer=LAYER, preprocessing={"crop": 448})
    with pytest.raises(fs.FilterSpeakError, match=r"dataset 'cub100' takes data_dir, max_images_per_class; not 'max_image_per_class'"):
        fs.data.cub100("x", max_image_per_class=2)
    _refused(tmp_path, r"model must be a torch.nn.Module or a backbone name, got int", model=3)
    assert not (tmp_path / "S").exists()


def test_the_content_hash_covers_the_class_and_every_tensor():
    network = TinyNet()
    same = TinyNet()
    assert in_memory.content_hash(network) == in_memory.content_hash(same)
    with torch.no_grad():
        same.fc.bias[0] += 1e-6
    assert in_memory.content_hash(network) != in_memory.content_hash(same)

    class Renamed(TinyNet):
        pass

    renamed = Renamed()
    renamed.load_state_dict(network.state_dict())
    assert in_memory.content_hash(renamed) != in_memory.content_hash(network)
    reference = in_memory.register(network)
    assert reference == f"memory:TinyNet:{in_memory.content_hash(network)}"
    with torch.no_grad():  # the registered copy is private: later edits of the object do not reach it
        network.fc.bias[0] += 1.0
    assert in_memory.content_hash(in_memory.module_copy(reference)) != in_memory.content_hash(network)


def test_fs_exposes_a_documented_api():
    assert fs.__all__ == sorted(fs.__all__)
    for name in fs.__all__:
        assert getattr(fs, name).__doc__, name
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        fs.nope  # noqa: B018
