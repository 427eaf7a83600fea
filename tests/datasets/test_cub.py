"""CUB loaders: the real cub100 folder in ../shared and a tiny CUB-200-2011 layout made here."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from filterspeak.datasets.cub import DatasetError, load_cub
from filterspeak.datasets.cub_attributes import attribute_text

CUB100 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cub100"


def test_attribute_names_become_caption_phrases():
    assert attribute_text("has_wing_color::blue") == "blue wings"
    assert attribute_text("has_upper_tail_color::grey") == "grey tail"
    assert attribute_text("has_bill_shape::hooked_seabird") == "hooked bill"
    assert attribute_text("has_breast_pattern::spotted") == "spotted breast"
    assert attribute_text("has_breast_pattern::solid") is None
    assert attribute_text("has_size::small_(5_-_9_in)") is None


@pytest.mark.skipif(not CUB100.is_dir(), reason="needs ../shared/data/cub100 (the CUB subset shipped beside the repository)")
def test_cub100_folder_with_derived_captions():
    dataset = load_cub(CUB100)
    assert len(dataset.images) == 5902 and len(dataset.classes) == 100
    assert dataset.images["split"].value_counts().to_dict() == {"test": 2999, "train": 2903}
    assert dataset.images["image_id"].tolist() == list(range(5902))
    assert Path(dataset.images["path"].iloc[-1]).is_file()
    assert set(dataset.captions["origin"]) == {"derived"}
    assert dataset.captions["image_id"].nunique() == 5902
    tanager = dataset.classes.loc[dataset.classes["name"] == "Scarlet_Tanager", "class_id"].item()
    tanager_images = dataset.images.loc[dataset.images["class_id"] == tanager, "image_id"]
    text = " ".join(dataset.captions.loc[dataset.captions["image_id"].isin(tanager_images), "text"])
    assert text.count("red") > text.count("blue") * 3  # scarlet tanagers are red in CUB's annotations
    again = load_cub(CUB100)
    assert again.captions.equals(dataset.captions)  # derived captions are deterministic


def _write_cub_200_2011(root: Path, with_reed: bool) -> None:
    (root / "images" / "001.Red_Bird").mkdir(parents=True)
    (root / "images" / "002.Blue_Bird").mkdir(parents=True)
    files = ["001.Red_Bird/red_1.jpg", "001.Red_Bird/red_2.jpg", "002.Blue_Bird/blue_1.jpg"]
    for _number, relative in enumerate(files, start=1):
        Image.new("RGB", (8, 8), (200, 0, 0) if "red" in relative else (0, 0, 200)).save(root / "images" / relative)
    (root / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in enumerate(files, start=1)))
    (root / "classes.txt").write_text("1 001.Red_Bird\n2 002.Blue_Bird\n")
    (root / "image_class_labels.txt").write_text("1 1\n2 1\n3 2\n")
    (root / "train_test_split.txt").write_text("1 1\n2 0\n3 1\n")
    (root / "attributes.txt").write_text("1 has_wing_color::blue\n2 has_wing_color::red\n3 has_size::small_(5_-_9_in)\n")
    (root / "attributes").mkdir()
    (root / "attributes" / "class_attribute_labels_continuous.txt").write_text("0 100 100\n100 0 100\n")
    # image 1 and 2: red wings; image 3: blue wings (per-image labels win over class percentages)
    (root / "attributes" / "image_attribute_labels.txt").write_text("1 1 0 3 1.0\n1 2 1 3 1.0\n2 2 1 3 1.0\n3 1 1 3 1.0\n3 3 1 3 1.0\n")
    if with_reed:
        for relative in files:
            target = (root / "text_c10" / relative).with_suffix(".txt")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"this bird is {relative.split('/')[0].split('.')[1].lower()}\na second caption\n")


def test_cub_200_2011_layout_with_reed_captions(tmp_path):
    _write_cub_200_2011(tmp_path, with_reed=True)
    dataset = load_cub(tmp_path)
    assert dataset.images[["image_id", "split", "class_id"]].values.tolist() == [[0, "train", 0], [1, "test", 0], [2, "train", 1]]
    assert dataset.classes["name"].tolist() == ["Red_Bird", "Blue_Bird"]
    assert set(dataset.captions["origin"]) == {"human"}
    assert dataset.captions.loc[dataset.captions["image_id"] == 2, "text"].tolist() == ["this bird is blue_bird", "a second caption"]


def test_cub_200_2011_layout_derives_captions_from_per_image_labels(tmp_path):
    _write_cub_200_2011(tmp_path, with_reed=False)
    dataset = load_cub(tmp_path)
    assert set(dataset.captions["origin"]) == {"derived"}
    by_image = dataset.captions.groupby("image_id")["text"].apply(" ".join)
    assert "red wings" in by_image[0] and "blue" not in by_image[0]
    assert "blue wings" in by_image[2] and "red" not in by_image[2]


def test_missing_files_give_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_cub(tmp_path / "nowhere")
    tmp_path.joinpath("images.txt").write_text("1 a/b.jpg\n")
    with pytest.raises(DatasetError, match="missing classes.txt"):
        load_cub(tmp_path)
