"""Bad and unusual image files: skipped with a reason in `errors`, or read correctly as RGB."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from filterspeak.backbones.images import load_image
from filterspeak.datasets.registry import DatasetParams
from filterspeak.storage.paths import StorePaths
from stage_runs import run_dataset


def _missing(path):
    return None  # listed in the captions but never written


def _zero_bytes(path):
    path.write_bytes(b"")


def _truncated_jpeg(path):
    Image.new("RGB", (64, 64), (10, 200, 30)).save(path.with_suffix(".tmp.jpg"), "JPEG")
    data = path.with_suffix(".tmp.jpg").read_bytes()
    path.with_suffix(".tmp.jpg").unlink()
    path.write_bytes(data[: len(data) // 2])


def _not_an_image(path):
    path.write_text("this is not a picture")


BAD = {
    "zero-byte file": (_zero_bytes, "empty image file (0 bytes)"),
    "truncated JPEG": (_truncated_jpeg, "truncated or corrupt image"),
    "text named .jpg": (_not_an_image, "not an image file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_image_is_skipped_and_recorded(tmp_path, case):
    root = tmp_path / "birds"
    (root / "a").mkdir(parents=True)
    for index in range(3):
        Image.new("RGB", (32, 32), (200, 0, 0)).save(root / "a" / f"good_{index}.jpg")
    make, reason = BAD[case]
    make(root / "a" / "bad.jpg")
    captions = tmp_path / "c.jsonl"
    names = [f"a/good_{i}.jpg" for i in range(3)] + ["a/bad.jpg"]
    captions.write_text("".join(json.dumps({"image": n, "caption": "a red bird"}) + "\n" for n in names))
    params = DatasetParams.of("folder", data_dir=str(root), captions=str(captions), caption_format="jsonl")
    result = run_dataset(StorePaths(tmp_path / "store").ensure(), params)
    images = result.read("images")
    assert sorted(p.rsplit("/", 1)[1] for p in images["path"]) == ["good_0.jpg", "good_1.jpg", "good_2.jpg"]
    errors = result.read("errors")
    assert len(errors) == 1 and errors["reason"].iloc[0].startswith(reason) and "bad.jpg" in errors["item"].iloc[0]
    assert set(result.read("captions")["image_id"]) == set(images["image_id"])  # the rest is complete


@pytest.mark.parametrize(
    "mode, make, expected",
    [
        ("CMYK", lambda: Image.new("CMYK", (8, 8), (0, 255, 255, 0)), (255, 0, 0)),
        ("greyscale", lambda: Image.new("L", (8, 8), 128), (128, 128, 128)),
        ("16-bit PNG", lambda: Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)), (255, 255, 255)),
        ("PNG with alpha", lambda: Image.new("RGBA", (8, 8), (0, 0, 255, 10)), (0, 0, 255)),
    ],
)
def test_unusual_modes_read_as_rgb(tmp_path, mode, make, expected):
    path = tmp_path / "image.png" if mode != "CMYK" else tmp_path / "image.jpg"
    make().save(path)
    pixels = load_image(path, 4)
    assert pixels.shape == (4, 4, 3) and pixels.dtype == np.uint8
    np.testing.assert_allclose(pixels[0, 0], expected, atol=3)


def test_a_10000_pixel_square_image_is_read_shrunk(tmp_path):
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (10_000, 10_000), (0, 128, 0)).save(path, "JPEG", quality=50)
    pixels = load_image(path, 64)
    assert pixels.shape == (64, 64, 3)
    np.testing.assert_allclose(pixels[32, 32], (0, 128, 0), atol=4)


def test_duplicate_image_ids_keep_the_first(tmp_path):
    import pandas as pd

    from filterspeak.tasks.dataset import usable_images

    images = pd.DataFrame({"image_id": [0, 1, 1], "split": "train", "path": ["a", "b", "c"], "class_id": 0})
    kept, errors = usable_images(images, check_files=False)
    assert kept["path"].tolist() == ["a", "b"]
    assert errors.values.tolist() == [["image 1 (c)", "duplicate image id"]]


def _cub_layout(root, files: list[str]) -> None:
    """A CUB-200-2011 folder with Reed captions for `files` (class folder/name.jpg)."""
    classes = sorted({f.split("/")[0] for f in files})
    for relative in files:
        (root / "images" / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (200, 0, 0)).save(root / "images" / relative)
        caption = (root / "text_c10" / relative).with_suffix(".txt")
        caption.parent.mkdir(parents=True, exist_ok=True)
        caption.write_text("a red bird\na red crown\n")
    (root / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in enumerate(files, start=1)))
    (root / "classes.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes, start=1)))
    (root / "image_class_labels.txt").write_text(
        "".join(f"{i} {classes.index(p.split('/')[0]) + 1}\n" for i, p in enumerate(files, start=1))
    )
    (root / "train_test_split.txt").write_text("".join(f"{i} {i % 2}\n" for i in range(1, len(files) + 1)))
    (root / "attributes.txt").write_text("1 has_wing_color::red\n2 has_wing_color::blue\n")
    (root / "attributes").mkdir()
    (root / "attributes" / "class_attribute_labels_continuous.txt").write_text("".join("100 0\n" for _ in classes))
    (root / "attributes" / "image_attribute_labels.txt").write_text("".join(f"{i} 1 1 3 1.0\n" for i in range(1, len(files) + 1)))


def test_missing_image_file_is_skipped_and_recorded(tmp_path):
    """An image the dataset lists (CUB's images.txt) but that is not on disk."""
    root = tmp_path / "CUB"
    files = ["001.Red_Bird/red_1.jpg", "001.Red_Bird/red_2.jpg", "002.Blue_Bird/blue_1.jpg"]
    _cub_layout(root, files)
    (root / "images" / files[1]).unlink()
    result = run_dataset(StorePaths(tmp_path / "store").ensure(), DatasetParams.of("cub", data_dir=str(root)))
    errors = result.read("errors")
    assert errors.values.tolist() == [[f"image 1 ({root / 'images' / files[1]})", "image file not found"]]
    images = result.read("images")
    assert images["image_id"].tolist() == [0, 2]  # the rest is complete
    assert result.read("captions").groupby("image_id").size().to_dict() == {0: 2, 2: 2}


def test_unusual_images_are_kept_by_the_dataset_stage_and_read_as_rgb(tmp_path):
    """CMYK, greyscale, 16-bit, alpha and a 10,000² photo: usable images, none in `errors`."""
    root = tmp_path / "birds"
    (root / "a").mkdir(parents=True)
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(root / "a" / "cmyk.jpg")
    Image.new("L", (8, 8), 128).save(root / "a" / "grey.png")
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(root / "a" / "deep.png")
    Image.new("RGBA", (8, 8), (0, 0, 255, 10)).save(root / "a" / "alpha.png")
    Image.new("RGB", (10_000, 10_000), (0, 128, 0)).save(root / "a" / "huge.jpg", "JPEG", quality=50)
    names = sorted(p.name for p in (root / "a").iterdir())
    captions = tmp_path / "c.jsonl"
    captions.write_text("".join(json.dumps({"image": f"a/{n}", "caption": "a red bird"}) + "\n" for n in names))
    params = DatasetParams.of("folder", data_dir=str(root), captions=str(captions), caption_format="jsonl")
    result = run_dataset(StorePaths(tmp_path / "store").ensure(), params)
    assert result.read("errors").empty
    images = result.read("images")
    assert sorted(p.rsplit("/", 1)[1] for p in images["path"]) == names
    from filterspeak.backbones.images import load_images

    batch = load_images(images["path"].tolist(), 16)
    assert tuple(batch.shape) == (5, 3, 16, 16)
