"""Caption sources: one reader per format, on fixtures in the real layouts, and bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _helpers import FIXTURES, FLICKR
from filterspeak.captions.sources import CAPTION_COLUMNS, FORMATS, CaptionSourceError, read_captions


def check_frame(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == CAPTION_COLUMNS
    assert frame["source_line"].dtype == "int64"
    assert all(isinstance(k, str) and k for k in frame["image_key"])
    assert all(isinstance(t, str) for t in frame["text"])
    assert (frame["source_line"] >= 1).all()


def test_formats_listed_and_unknown_format_message():
    assert FORMATS == ("cub", "coco", "flickr8k", "jsonl", "csv")
    with pytest.raises(ValueError, match="'yaml'") as info:
        read_captions(FIXTURES / "csv" / "captions.csv", "yaml")
    msg = str(info.value)
    assert "'yaml'" in msg and all(f in msg for f in FORMATS)


def test_cub_reed_layout():
    for root in (FIXTURES / "cub", FIXTURES / "cub" / "text_c10"):
        frame, errors = read_captions(root, "cub")
        check_frame(frame)
        assert errors == []
        assert len(frame) == 10 + 3 + 3  # the blank line in one file is not a caption
        first = frame.iloc[0]
        assert first["image_key"] == ("001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg")
        assert first["text"] == "a large bird with a long hooked bill and dark brown wings"
        assert first["source_line"] == 1
        after_blank = frame[frame["image_key"].str.endswith("_0002_55.jpg")]
        assert after_blank["source_line"].tolist() == [1, 2, 4]
        assert frame["image_key"].str.startswith("017.Cardinal/").sum() == 3


def test_cub_missing_or_wrong_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="CUB caption folder not found: .*nope"):
        read_captions(tmp_path / "nope", "cub")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CaptionSourceError, match="text_c10"):
        read_captions(tmp_path / "empty", "cub")


def test_cub_stray_file_and_invalid_utf8(tmp_path):
    cls = tmp_path / "text_c10" / "002.Laysan_Albatross"
    cls.mkdir(parents=True)
    (cls / "Laysan_Albatross_0001_545.txt").write_bytes(b"a white bird with grey wings\nbad \xff\xfe bytes here\na long yellow bill\n")
    (tmp_path / "text_c10" / "README.txt").write_text("not a caption file\n")
    frame, errors = read_captions(tmp_path, "cub")
    assert frame["text"].tolist() == ["a white bird with grey wings", "a long yellow bill"]
    assert frame["source_line"].tolist() == [1, 3]
    assert {"item": "002.Laysan_Albatross/Laysan_Albatross_0001_545.txt:2", "reason": "invalid UTF-8 at line 2"} in errors
    assert {"item": "README.txt", "reason": "caption file outside a class folder"} in errors


def test_coco_captions_json():
    frame, errors = read_captions(FIXTURES / "coco" / "captions_val2014_sample.json", "coco")
    check_frame(frame)
    assert len(frame) == 4
    assert frame["image_key"].tolist() == ["COCO_val2014_000000000042.jpg"] * 2 + ["COCO_val2014_000000000073.jpg"] * 2
    assert frame["source_line"].tolist() == [1, 2, 3, 4]
    assert errors == [{"item": "annotation 1005 (image_id 999)", "reason": "caption for unknown image"}]


def test_coco_bad_documents(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CaptionSourceError, match="not a COCO captions JSON"):
        read_captions(bad, "coco")
    bad.write_text(json.dumps({"images": []}))
    with pytest.raises(CaptionSourceError, match="annotations"):
        read_captions(bad, "coco")
    # row-level problems are recorded, the rest is kept
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2}],
        "annotations": [
            {"image_id": 1, "id": 10, "caption": "a red bird"},
            {"image_id": 1, "id": 11},
            {"image_id": "1", "id": 12, "caption": "string id matches too"},
            "junk",
        ],
    }
    bad.write_bytes(json.dumps(doc).replace("a red bird", "a r\\u00e9d bird").encode())
    frame, errors = read_captions(bad, "coco")
    assert frame["text"].tolist() == ["a r\u00e9d bird", "string id matches too"]
    reasons = sorted(e["reason"] for e in errors)
    assert reasons == ["annotation is not an object", "annotation without a caption", "image without an id or a file_name"]
    # raw invalid UTF-8 inside a caption: that caption is skipped, not the file
    raw = json.dumps(
        {
            "images": [{"id": 1, "file_name": "a.jpg"}],
            "annotations": [{"image_id": 1, "id": 1, "caption": "XX"}, {"image_id": 1, "id": 2, "caption": "fine"}],
        }
    ).encode()
    bad.write_bytes(raw.replace(b"XX", b"\xc3\x28"))
    frame, errors = read_captions(bad, "coco")
    assert frame["text"].tolist() == ["fine"]
    assert errors == [{"item": "annotation 1", "reason": "invalid UTF-8 in annotation 1"}]


def test_flickr8k_token_file():
    frame, errors = read_captions(FIXTURES / "flickr8k" / "Flickr8k.token.txt", "flickr8k")
    check_frame(frame)
    assert errors == [] and len(frame) == 10
    assert frame.iloc[0]["image_key"] == "1000268201_693b08cb0e.jpg"
    assert frame.iloc[0]["text"].startswith("A child in a pink dress")
    assert frame["source_line"].tolist() == list(range(1, 11))


def test_flickr8k_bad_lines(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_bytes(b"a.jpg#0\tA dog runs .\r\nno tab on this line\n\nb.jpg#1\tA \xe9 latin-1 byte\nc.jpg#2\t\nd.jpg#3\tA cat sleeps .")
    frame, errors = read_captions(path, "flickr")  # alias
    assert frame["image_key"].tolist() == ["a.jpg", "c.jpg", "d.jpg"]
    assert frame["text"].tolist() == ["A dog runs .", "", "A cat sleeps ."]
    assert frame["source_line"].tolist() == [1, 5, 6]
    assert errors == [
        {"item": "tokens.txt:2", "reason": "malformed line: expected '<image>#<n><TAB><caption>'"},
        {"item": "tokens.txt:4", "reason": "invalid UTF-8 at line 4"},
    ]


def test_jsonl():
    frame, errors = read_captions(FIXTURES / "jsonl" / "captions.jsonl", "jsonl")
    check_frame(frame)
    assert errors == []
    assert frame["image_key"].tolist() == ["images/0001.jpg", "images/0001.jpg", "2", "images/0003.jpg", "images/0003.jpg"]
    assert frame["source_line"].tolist() == [1, 2, 3, 4, 4]
    assert frame["text"].iloc[3] == "a blue bird with a long tail"


def test_jsonl_bad_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'{"image": "a.jpg", "caption": "ok"}\n'
        b"{broken\n"
        b"[1, 2]\n"
        b'{"caption": "no image"}\n'
        b'{"image": "b.jpg"}\n'
        b'{"image": "c.jpg", "caption": "bad \xff byte"}\n'
        b'{"image": 7.0, "text": "float id"}\n'
    )
    frame, errors = read_captions(path, "jsonl")
    assert frame["image_key"].tolist() == ["a.jpg", "7"]
    assert [e["reason"] for e in errors] == [
        "invalid JSON at line 2",
        "JSON value is not an object",
        "no image field (one of image, image_id, path, file_name)",
        "no caption field (caption, text or captions)",
        "invalid UTF-8 at line 6",
    ]


def test_csv():
    frame, errors = read_captions(FIXTURES / "csv" / "captions.csv", "csv")
    check_frame(frame)
    assert errors == []
    assert frame["text"].tolist()[1:] == ["the bird has a short, pointed beak", 'a grey bird with a white belly, and "bright" yellow eyes']
    assert frame["source_line"].tolist() == [2, 3, 4]


def test_csv_variants_and_errors(tmp_path):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("Image_ID\tText\n1\ta red bird\n2\n\n3\tthe end\n", encoding="utf-8")
    frame, errors = read_captions(tsv, "csv")
    assert frame["image_key"].tolist() == ["1", "3"]
    assert errors == [{"item": "c.tsv:3", "reason": "line 3 has 1 fields, expected 2"}]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"path,caption\nx.jpg,caf\xe9\ny.jpg,fine\n")
    frame, errors = read_captions(bad, "csv")
    assert frame["image_key"].tolist() == ["y.jpg"]
    assert errors == [{"item": "bad.csv:2", "reason": "invalid UTF-8 at line 2"}]
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("a.jpg,a red bird\n")
    with pytest.raises(CaptionSourceError, match="image column"):
        read_captions(nohead, "csv")
    with pytest.raises(FileNotFoundError, match="caption file not found: .*missing.csv"):
        read_captions(tmp_path / "missing.csv", "csv")


def test_shared_flickr8k_reads_every_caption():
    path = FLICKR
    if not path.exists():
        pytest.skip(f"{path} not found (the shared Flickr8k captions are a dev asset)")
    frame, errors = read_captions(path, "flickr8k")
    assert errors == [] and len(frame) == 40_450
    assert frame["image_key"].nunique() == 8_090  # five captions per image
