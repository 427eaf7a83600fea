"""`import filterspeak as fs` with an nn.Module held in memory: content addressing (the same
module reuses every stage, one changed weight recomputes from extraction on), images of every
kind explained alike, heat maps, search, failures and the tables as DataFrames."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import filterspeak as fs
from filterspeak.api.inputs import ImageUnreadable
from filterspeak.api.search import SearchError
from filterspeak.backbones import in_memory
from tiny_build import TINY, parameters
from tiny_net import LAYER, TinyNet

pytestmark = pytest.mark.slow
# the tiny build's data at its own 32 px, with a network held in memory (width and epochs are the built-in's)
OPTIONS = {name: value for name, value in parameters(TINY).items() if name not in ("width", "epochs")}
PREPROCESSING = {"image_size": 32, "resize": None}
DATASET_STAGES = ("dataset", "captions")
NETWORK_STAGES = ("backbone", "extract", "cooccurrence", "pdfs", "attribute_scores", "explanations", "failures", "report")


def _build(store: fs.Store, model, **changes) -> fs.Build:
    return store.build(model, layer=LAYER, preprocessing=PREPROCESSING, progress=False, **{**OPTIONS, **changes})


def _reused(build: fs.Build) -> dict[str, bool]:
    return {record.stage: record.reused for record in build.summary.stages}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    store = fs.Store(tmp_path_factory.mktemp("api") / "S")
    network = TinyNet()
    return store, network, _build(store, network)


def test_the_same_module_reuses_every_stage_and_one_changed_weight_recomputes_from_extraction_on(built):
    store, network, first = built
    assert set(_reused(first)) == set(DATASET_STAGES + NETWORK_STAGES)
    assert not any(_reused(first).values())
    assert first.backbone == f"TinyNet-{in_memory.content_hash(network)[:8]}"

    assert all(_reused(_build(store, network)).values())  # the same object again
    equal = TinyNet(seed=5)
    equal.load_state_dict(network.state_dict())
    assert all(_reused(_build(store, equal)).values())  # another object with the same class and weights

    changed = copy.deepcopy(network)
    with torch.no_grad():
        changed.features[3].weight[0, 0, 0, 0] += 0.25
    rebuilt = _build(store, changed, latest=False)
    reused = _reused(rebuilt)
    assert all(reused[stage] for stage in DATASET_STAGES)
    assert not any(reused[stage] for stage in NETWORK_STAGES)
    assert rebuilt.backbone != first.backbone
    assert not rebuilt.view.read("filter_responses")["max_response"].equals(first.view.read("filter_responses")["max_response"])


def test_a_pil_image_a_png_file_an_array_and_tensors_give_the_same_explanation(built, tmp_path):
    _store, _network, build = built
    pixels = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)  # not square: resized like a file
    picture = Image.fromarray(pixels)
    file = tmp_path / "bird.png"
    picture.save(file)
    from_file = build.explain(file)
    assert isinstance(from_file, fs.Explanation) and from_file.path == str(file)
    same = [
        build.explain(picture),
        build.explain(pixels),
        build.explain(torch.from_numpy(pixels).permute(2, 0, 1)),  # uint8 (3, H, W)
        build.explain(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255),  # float in [0, 1]
    ]
    batch = build.explain(torch.from_numpy(np.stack([pixels, pixels])).permute(0, 3, 1, 2))
    assert len(batch) == 2
    for other in same:  # the same pixels through the same network, one image at a time: the same numbers
        assert np.array_equal(other.image, from_file.image)
        assert (other.sentence, other.predicted_class_id, other.class_name) == (
            from_file.sentence,
            from_file.predicted_class_id,
            from_file.class_name,
        )
        assert other.probability == from_file.probability and other.cited == from_file.cited
        pd.testing.assert_frame_equal(other.contributions, from_file.contributions, check_exact=True)
    for other in batch:  # a batch of 2 runs other float32 kernels: the same up to their rounding
        assert np.array_equal(other.image, from_file.image) and other.sentence == from_file.sentence
        assert other.probability == pytest.approx(from_file.probability, rel=1e-5)
        assert [c.score for c in other.cited] == pytest.approx([c.score for c in from_file.cited], rel=1e-5)
    assert same[0].path == "<PIL image 1>" and batch[1].path == "<tensor 2>"


def test_an_explanation_is_the_stored_decision_of_a_dataset_image(built):
    """A test image of the build, explained as a file: the sentence the explanations stage wrote."""
    _store, _network, build = built
    images = build.view.read("images").sort_values("image_id")
    test = images[images["split"] == "test"].head(3)
    stored = build.view.read("explanations").set_index("image_id")
    files = build.view.table_result("images").located(test["path"].tolist())
    for image_id, explained in zip(test["image_id"], build.explain(files)):
        assert explained.sentence == stored.loc[image_id, "sentence"]
        assert explained.probability == pytest.approx(stored.loc[image_id, "probability"], abs=1e-9)


def test_heat_maps_and_contributions(built):
    _store, _network, build = built
    explanation = build.explain(np.full((32, 32, 3), 128, np.uint8))
    top = explanation.contributions
    assert list(top.columns) == ["filter", "contribution", "share", "top_attribute"]
    assert top["contribution"].is_monotonic_decreasing and len(top) == 10
    assert set(top["top_attribute"]) <= set(build.attributes()["phrase"])
    phrase = build.attributes()["phrase"].iloc[0]
    heat = explanation.heatmap(phrase)
    assert isinstance(heat, Image.Image) and heat.width == 32 and heat.height > 32  # the image plus its title strip
    assert explanation.heat_map(phrase).shape == (32, 32)
    with pytest.raises(SearchError, match=r"'purple wombat'"):
        explanation.heatmap("purple wombat")
    html = explanation._repr_html_()
    assert explanation.sentence in html and html.count("data:image/png;base64,") == 1 + len(explanation.cited)


def test_search_failures_and_tables(built):
    _store, _network, build = built
    phrases = build.attributes()["phrase"].tolist()
    found = build.search(phrases[0], top=4)
    assert list(found.columns) == ["rank", "image_id", "class", "split", "score", "path"]
    assert found["rank"].tolist() == [1, 2, 3, 4] and found["score"].is_monotonic_decreasing and set(found["split"]) == {"test"}
    misspelt = phrases[0][:-1] + ("x" if phrases[0][-1] != "x" else "y")
    with pytest.raises(SearchError, match=rf"did you mean .*'{phrases[0]}'"):
        build.search(misspelt)
    test = build.images("test")
    assert list(test.columns) == ["image_id", "split", "class_id", "class", "path"] and set(test["split"]) == {"test"}
    assert len(test) == len(build.view.split_ids("test")) and set(test["class"]) == set(build.classes()["name"])
    assert set(found["path"]) <= set(test["path"])
    failures = build.failures(top=3)
    assert list(failures.columns) == ["true_class", "predicted_class", "count", "rate", "sentence", "attributes"]
    assert len(build.classes()) == 12 and len(build.filters()) == 16
    counted = build.sql(f"SELECT count(*) AS n FROM explanations WHERE backbone = '{build.backbone}' AND layer = '{build.layer}'")
    assert int(counted["n"][0]) == len(build.view.read("explanations"))


def test_a_build_of_an_in_memory_model_needs_the_module_again_in_a_new_session(built, monkeypatch):
    store, network, build = built
    monkeypatch.setattr(in_memory, "_MODULES", {})  # as in a new Python process
    reopened = fs.open(store.location, backbone=build.backbone)
    assert len(reopened.filters()) == 16  # its tables are readable
    with pytest.raises(fs.FilterSpeakError, match=r"in-memory model TinyNet .* is not in this Python process: pass the module again"):
        reopened.explain(np.zeros((32, 32, 3), np.uint8))
    with_module = fs.open(store.location, model=network)
    assert with_module.backbone == build.backbone
    assert with_module.explain(np.zeros((32, 32, 3), np.uint8)).sentence


def test_an_unreadable_image_is_one_line_before_any_model_work(built, tmp_path):
    _store, _network, build = built
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for bad, message in [
        (text, r"cannot read image .*notes.png"),
        (tmp_path / "missing.jpg", r"image not found: .*missing.jpg"),
        (np.full((8, 8, 3), 2.0), r"floats in \[2, 2\]: give pixels in \[0, 1\] before normalisation"),
        (torch.zeros(4, 8, 8), r"must be \(3, H, W\)"),
        ("", r"image not found"),
    ]:
        with pytest.raises(ImageUnreadable, match=message) as raised:
            build.explain([np.zeros((8, 8, 3), np.uint8), bad])
        assert "\n" not in str(raised.value)
