"""Dataset `folder`: class sub-folders plus a caption file, through the dataset stage."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from filterspeak.datasets.cub import DatasetError
from filterspeak.datasets.folder import load_folder
from filterspeak.datasets.registry import DatasetParams
from filterspeak.storage.paths import StorePaths
from stage_runs import run_dataset


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "birds"
    for cls, colour in (("cardinal", (200, 0, 0)), ("jay", (0, 0, 200))):
        (root / cls).mkdir(parents=True)
        for index in range(3):
            Image.new("RGB", (16, 16), colour).save(root / cls / f"{cls}_{index}.png")
    lines = [
        {"image": "cardinal/cardinal_0.png", "caption": "a red bird with a red crown"},
        {"image": "cardinal_1.png", "caption": "the crown is red"},  # matched by file name
        {"image": "jay_0", "caption": "a blue bird with a white breast"},  # matched by stem
        {"image": "jay/jay_1.png", "caption": "blue wings"},
        {"image": "jay/jay_2.png", "caption": "a blue crest"},
        {"image": "owl/owl_9.png", "caption": "a brown owl"},  # no such image
    ]
    captions = tmp_path / "captions.jsonl"
    captions.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return root, captions


def test_folder_dataset_matches_captions_and_records_the_rest(folder):
    root, captions = folder
    dataset = load_folder(root, str(captions), "jsonl")
    assert dataset.classes["name"].tolist() == ["cardinal", "jay"]
    assert dataset.images["class_id"].tolist() == [0, 0, 0, 1, 1, 1]
    by_image = dataset.captions.groupby("image_id")["text"].apply(list).to_dict()
    assert by_image == {
        0: ["a red bird with a red crown"],
        1: ["the crown is red"],
        3: ["a blue bird with a white breast"],
        4: ["blue wings"],
        5: ["a blue crest"],
    }
    assert sorted(dataset.errors["reason"]) == ["caption for unknown image", "image has no captions"]
    assert "cardinal/cardinal_2.png" in " ".join(dataset.errors["item"])
    assert set(dataset.images["split"]) <= {"train", "test"}
    assert load_folder(root, str(captions), "jsonl").images.equals(dataset.images)  # deterministic split


def test_folder_dataset_through_the_stage_writes_errors(folder, tmp_path):
    root, captions = folder
    params = DatasetParams.of("folder", data_dir=str(root), captions=str(captions), caption_format="jsonl")
    result = run_dataset(StorePaths(tmp_path / "store").ensure(), params)
    assert result.metrics["images"] == 6 and result.metrics["errors"] == 2
    assert result.read("captions")["origin"].unique().tolist() == ["human"]
    assert len(result.read("errors")) == 2


def test_folder_dataset_needs_its_caption_file(folder):
    root, _ = folder
    with pytest.raises(DatasetError, match="--captions FILE and --caption-format"):
        load_folder(root, None, None)


def _write_captions(tmp_path, caption_format: str, pairs: list[tuple[str, str]]):
    """The same captions in each supported layout."""
    if caption_format == "jsonl":
        path = tmp_path / "c.jsonl"
        path.write_text("".join(json.dumps({"image": key, "caption": text}) + "\n" for key, text in pairs))
    elif caption_format == "csv":
        path = tmp_path / "c.csv"
        path.write_text("image,caption\n" + "".join(f'{key},"{text}"\n' for key, text in pairs))
    elif caption_format == "flickr8k":
        path = tmp_path / "c.token.txt"
        path.write_text("".join(f"{key}#{n}\t{text}\n" for n, (key, text) in enumerate(pairs)))
    elif caption_format == "coco":
        path = tmp_path / "c.json"
        keys = sorted({key for key, _ in pairs})
        path.write_text(
            json.dumps(
                {
                    "images": [{"id": i, "file_name": key} for i, key in enumerate(keys)],
                    "annotations": [{"image_id": keys.index(key), "caption": text} for key, text in pairs],
                }
            )
        )
    else:  # cub: text_c10/<class folder>/<image stem>.txt
        path = tmp_path / "text_c10"
        for key, text in pairs:
            target = (path / key).with_suffix(".txt")
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a") as handle:
                handle.write(text + "\n")
    return path


@pytest.mark.parametrize("caption_format", ["cub", "coco", "flickr8k", "jsonl", "csv"])
def test_build_accepts_every_caption_format(folder, tmp_path, caption_format):
    root, _ = folder
    pairs = [
        (f"{cls}/{cls}_{i}.png", f"a {colour} bird with a {colour} crown")
        for cls, colour in (("cardinal", "red"), ("jay", "blue"))
        for i in range(3)
    ]
    captions = _write_captions(tmp_path, caption_format, pairs)
    params = DatasetParams.of("folder", data_dir=str(root), captions=str(captions), caption_format=caption_format)
    result = run_dataset(StorePaths(tmp_path / "store").ensure(), params)
    table = result.read("captions").merge(result.read("images"), on="image_id")
    assert len(table) == 6 and result.metrics["errors"] == 0
    assert all(("red" in text) == (class_id == 0) for text, class_id in zip(table["text"], table["class_id"]))


def test_caption_file_that_is_not_utf8_loses_only_its_bad_lines(folder, tmp_path):
    """A Latin-1 caption file through the dataset stage: each undecodable line is an `errors` row
    (so is the image left without captions); every other caption is kept."""
    root, _ = folder
    rows = [
        ("cardinal/cardinal_0.png", "a red bird"),
        ("cardinal/cardinal_1.png", "a red crown"),
        ("cardinal/cardinal_2.png", "a crème-coloured breast"),
        ("jay/jay_0.png", "a blue bird"),
        ("jay/jay_1.png", "blue wings"),
        ("jay/jay_2.png", "a blue crest"),
    ]
    captions = tmp_path / "latin1.csv"
    captions.write_bytes(("image,caption\n" + "".join(f"{key},{text}\n" for key, text in rows)).encode("latin-1"))
    params = DatasetParams.of("folder", data_dir=str(root), captions=str(captions), caption_format="csv")
    result = run_dataset(StorePaths(tmp_path / "store").ensure(), params)
    errors = sorted(map(tuple, result.read("errors").values.tolist()))
    assert errors == [("image cardinal/cardinal_2.png", "image has no captions"), ("latin1.csv:4", "invalid UTF-8 at line 4")]
    kept = result.read("captions").merge(result.read("images"), on="image_id")
    assert sorted(kept["text"]) == sorted(text for key, text in rows if "crème" not in text)
    assert result.metrics["images"] == 6  # the image itself stays usable
