"""`filterspeak explain --heatmaps DIR`: one PNG per cited attribute, each the image as the network
saw it with the grounding map M_a overlaid under a title strip; a folder that cannot be written is
refused before any model work, and a failed write leaves no partial PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from filterspeak.api import explain as explain_images
from filterspeak.backbones import images as image_loading
from filterspeak.backbones.features import forward_to_layer
from filterspeak.evaluation import grounding
from filterspeak.flows.cli import main
from filterspeak.interpret.heatmap_images import overlay, title_height
from filterspeak.interpret.heatmaps import heat_maps
from filterspeak.interpret.responses import RESPONSES
from filterspeak.storage.catalog import query
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.graph import open_build
from filterspeak.tasks.readers import response_matrix


def _files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


# ---- without a store -----------------------------------------------------------------------


def test_an_unwritable_folder_fails_before_any_model_work(tmp_path, monkeypatch, capsys):
    def no_model_work(*_args, **_kwargs):
        raise AssertionError("the store was opened before the heat-map folder was checked")

    monkeypatch.setattr(explain_images, "open_build", no_model_work)
    (tmp_path / "a-file").write_text("not a folder")
    before = _files(tmp_path)
    for folder in (tmp_path / "a-file" / "maps", tmp_path / "a-file"):
        assert main(["explain", "--store", str(tmp_path / "store"), "--heatmaps", str(folder), str(tmp_path / "bird.png")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"filterspeak: error: cannot write heat maps to {folder}: ")
        assert "a-file is not a folder" in err
    assert _files(tmp_path) == before  # nothing written, no folder made


def test_a_missing_folder_passes_the_check_and_is_not_made_yet(tmp_path):
    folder = tmp_path / "new" / "maps"
    assert explain_images.check_heat_map_folder(folder) == folder
    assert not (tmp_path / "new").exists()  # made only when the PNGs are written


def test_file_names_are_safe_and_unique_when_stems_match():
    stems = explain_images.heat_map_stems(["a/bird.png", "b/bird.jpg", "c/Bird.png", "fish.png"])
    assert stems == ["bird-input1", "bird-input2", "Bird-input3", "fish"]  # case too: macOS and Windows ignore it
    assert explain_images.heat_map_stems(["x/.../ñandú!.png", "-rm -rf.png"]) == ["and", "rm-rf"]
    clash = ["bird.png", "bird.jpg", "bird-input2.png"]  # the names still collide once numbered: number them all
    assert explain_images.heat_map_stems(clash) == ["bird-input1", "bird-input2", "bird-input2-input3"]
    assert explain_images.heat_map_stems(["ключ.png"]) == ["image"]
    assert explain_images.heat_map_file(Path("out"), "bird", 2, "Black & White wing/../x") == Path("out/bird-2-black-white-wing-x.png")
    assert explain_images.heat_map_file(Path("out"), "bird", 1, "ñ") == Path("out/bird-1-attribute.png")


# ---- on the tiny synthetic build (the small store) --------------------------------------------------------


def _test_image(store: str) -> str:
    rows = query(StorePaths.at(store), "SELECT path FROM images WHERE split = 'test' ORDER BY image_id LIMIT 1").to_pylist()
    return rows[0]["path"]


def _expected_areas(store: str, image: str, attribute_ids: list[int]) -> np.ndarray:
    """(K, H, W, 3) the image areas the PNGs should hold, computed the evaluation's way: the maps
    from a forward to the layer, p(f|a) through `grounding`, p(f) from the train responses."""
    build = open_build(StorePaths.at(store))
    preprocessing = build.options.preprocessing
    batch = image_loading.load_images([image], preprocessing.image_size, preprocessing.resize)
    maps = forward_to_layer(build.model().eval(), build.layer, batch, preprocessing, torch.device("cpu")).feature_maps
    train = response_matrix(build, "filter_responses", RESPONSES[build.options.response].column, build.split_ids("train"))
    weights = grounding.filter_given_attribute(build.pdf, grounding.filter_prior(train))[attribute_ids]
    heat = heat_maps(maps, torch.from_numpy(weights), tuple(batch.shape[-2:]))[0].numpy()
    picture = batch[0].permute(1, 2, 0).numpy()
    return np.stack([overlay(picture, h) for h in heat])


@pytest.mark.slow
def test_one_png_per_cited_attribute_with_the_grounding_map(small_store, tmp_path, capsys):
    store, _ = small_store
    image = _test_image(store)
    size = open_build(StorePaths.at(store)).options.preprocessing.image_size
    folder = tmp_path / "maps" / "nested"  # made, parents too
    # the same image twice: the same stem, so the names carry the input's position
    assert main(["explain", "--store", store, "--json", "--device", "cpu", "--heatmaps", str(folder), image, image]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(results) == 2
    stem = Path(image).stem
    listed = set()
    for position, result in enumerate(results, 1):
        attributes, maps = result["attributes"], result["heatmaps"]
        assert attributes and len(maps) == len(attributes)
        assert [m["phrase"] for m in maps] == [a["phrase"] for a in attributes]
        for rank, (entry, attribute) in enumerate(zip(maps, attributes), 1):
            file = Path(entry["file"])
            assert file.parent == folder and file.name == f"{stem}-input{position}-{rank}-{attribute['phrase'].replace(' ', '-')}.png"
            with Image.open(file) as png:
                assert png.format == "PNG" and png.mode == "RGB"
                assert png.size == (size, size + title_height(attribute["phrase"], size))
            listed.add(file)
    assert _files(tmp_path) == listed  # nothing else: no temporary files left

    # the image area of each PNG is the image with M_a overlaid, M_a as the grounding metric computes it
    build = open_build(StorePaths.at(store))
    ids = [build.phrases.index(a["phrase"]) for a in results[0]["attributes"]]
    expected = _expected_areas(store, image, ids)
    for entry, area in zip(results[0]["heatmaps"], expected):
        pixels = np.asarray(Image.open(entry["file"]))
        np.testing.assert_allclose(pixels[-size:].astype(int), area.astype(int), atol=2)
    second = [np.asarray(Image.open(m["file"])) for m in results[1]["heatmaps"]]
    assert all(np.array_equal(a, np.asarray(Image.open(b["file"]))) for a, b in zip(second, results[0]["heatmaps"]))

    # plain text: the sentence line, then one line per file written
    assert main(["explain", "--store", store, "--device", "cpu", "--heatmaps", str(tmp_path / "text"), image]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{image}: This is a") and len(lines) == 1 + len(results[0]["attributes"])
    written = [Path(line.removeprefix("  wrote ")) for line in lines[1:]]
    assert all(line.startswith("  wrote ") for line in lines[1:]) and set(written) == _files(tmp_path / "text")
    assert [file.name.split("-")[1] for file in written] == [str(rank) for rank in range(1, len(written) + 1)]


@pytest.mark.slow
def test_an_unwritable_folder_on_a_real_store(small_store, tmp_path, capsys):
    store, _ = small_store
    (tmp_path / "a-file").write_text("")
    before, pngs = _files(tmp_path), set(Path(store).rglob("*.png"))
    folder = tmp_path / "a-file" / "maps"
    assert main(["explain", "--store", store, "--device", "cpu", "--heatmaps", str(folder), _test_image(store)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "cannot write heat maps" in captured.err
    assert _files(tmp_path) == before and set(Path(store).rglob("*.png")) == pngs
