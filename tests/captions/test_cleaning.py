"""Bad caption text is repaired or skipped with a reason; images are matched to known keys."""

from __future__ import annotations

import pandas as pd
import pytest

from filterspeak.captions.cleaning import clean_captions, clean_text, looks_english, match_images


def frame_of(texts, keys=None):
    keys = keys or [f"img{i}.jpg" for i in range(len(texts))]
    return pd.DataFrame({"image_key": keys, "text": texts, "source_line": range(1, len(texts) + 1)})


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("  a   red\tcrown \n", "a red crown"),
        ("<p>a bird with a <b>red</b> crown</p> &amp; <br/>", "a bird with a red crown &"),
        ("<script>alert('x')</script>a red crown", "a red crown"),
        ("a 🐦 with a red 🔴 crown", "a with a red crown"),
        ("a bird 👍🏽 with a crown ❤️", "a bird with a crown"),
        ("a red\x00 crown\x7f", "a red crown"),
        ("3 < 4 birds", "3 < 4 birds"),  # a lone '<' is not a tag
    ],
)
def test_clean_text_repairs(raw, cleaned):
    assert clean_text(raw) == (cleaned, None)


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "empty caption"),
        ("   \n\t ", "empty caption"),
        (None, "empty caption"),
        (float("nan"), "empty caption"),
        ("<p></p><br/>", "only HTML markup"),
        ("<div> </div>", "only HTML markup"),
        ("🐦🐦🐦 🔴", "only emoji or symbols"),
    ],
)
def test_clean_text_skips(raw, reason):
    assert clean_text(raw)[1] == reason


@pytest.mark.parametrize(
    "text, english",
    [
        ("A black dog jumps over a log .", True),
        ("this bird has a bright red crown and a short pointed black bill", True),
        ("Wet blonde dog running through water", True),
        ("red crown", True),
        ("Un oiseau avec une couronne rouge et des ailes noires.", False),
        ("Ein kleiner Vogel mit einem roten Kopf und schwarzen Flügeln", False),
        ("这只鸟有红色的冠和黑色的翅膀。", False),
        ("Птица с красной короной", False),
        ("123 456 7.8", False),
    ],
)
def test_looks_english(text, english):
    assert looks_english(text) is english


def test_clean_captions_reasons_and_kept_rows():
    texts = [
        "a bird with a red crown",
        "",
        "<b></b>",
        "🐦🐦",
        "Un oiseau avec une couronne rouge et des ailes noires.",
        "a bird with a red crown, " * 400,  # 10,000 characters
        "<i>a small</i> bird 🐦 with black wings",
        None,
    ]
    frame = frame_of(texts)
    frame.index = [10, 11, 12, 13, 14, 15, 16, 17]
    usable, errors = clean_captions(frame)
    assert usable.index.tolist() == [10, 16]
    assert usable["text"].tolist() == ["a bird with a red crown", "a small bird with black wings"]
    assert list(usable.columns) == ["image_key", "text", "source_line"]
    assert errors == [
        {"item": "line 2 (img1.jpg)", "reason": "empty caption"},
        {"item": "line 3 (img2.jpg)", "reason": "only HTML markup"},
        {"item": "line 4 (img3.jpg)", "reason": "only emoji or symbols"},
        {"item": "line 5 (img4.jpg)", "reason": "not English"},
        {"item": "line 6 (img5.jpg)", "reason": "caption longer than 2000 characters"},
        {"item": "line 8 (img7.jpg)", "reason": "empty caption"},
    ]
    # every row is accounted for: kept or recorded
    assert len(usable) + len(errors) == len(frame)


def test_clean_captions_options_and_item_names():
    frame = pd.DataFrame({"caption_id": [5, 6], "image_id": [1, 2], "text": ["a red crown " * 10, "Un oiseau rouge"]})
    usable, errors = clean_captions(frame, max_chars=50, check_english=False)
    assert usable["caption_id"].tolist() == [6]
    assert errors == [{"item": "caption 5", "reason": "caption longer than 50 characters"}]
    with pytest.raises(ValueError, match="max_chars must be an integer >= 1, got 0"):
        clean_captions(frame, max_chars=0)
    with pytest.raises(ValueError, match="clean_captions needs a DataFrame with a 'text' column"):
        clean_captions(pd.DataFrame({"x": [1]}))
    empty, errors = clean_captions(frame_of([]))
    assert empty.empty and errors == []


def test_clean_captions_never_raises_on_odd_text():
    odd = [
        "\udcff broken surrogate",
        "\x00" * 50,
        "<" * 1000,
        ">" * 1000,
        "&#xffffff; &bogus;",
        "a" * 100_000,
        12345,
        b"bytes",
        ["a", "list"],
        "<a href='x'>" * 200,
    ]
    usable, errors = clean_captions(frame_of(odd))
    assert len(usable) + len(errors) == len(odd)
    assert usable["text"].tolist() == ["broken surrogate", "&bogus;"]
    assert [e["reason"] for e in errors] == [
        "empty caption",
        "not English",
        "not English",
        "caption longer than 2000 characters",
        "not English",  # 12345: read as digits, no words
        "not text (bytes)",
        "not text (list)",
        "only HTML markup",
    ]


def test_match_images():
    captions = frame_of(
        ["a", "b", "c", "d", "e", "f"], keys=["001.Cardinal/x.jpg", "./001.Cardinal/x.jpg", "y.jpg", "z.png", "w.jpg", "nowhere.jpg"]
    )
    known = {"001.Cardinal/x.jpg": 0, "val2014/y.jpg": 1, "images/z.jpg": 2, "a/w.jpg": 3, "b/w.jpg": 4}
    matched, errors = match_images(captions, known)
    assert matched["text"].tolist() == ["a", "b", "c", "d"]
    assert matched["image_id"].tolist() == [0, 0, 1, 2]
    assert matched["image_id"].dtype == "int64"
    assert errors == [
        {"item": "image 'w.jpg' (line 5)", "reason": "caption for unknown image"},  # ambiguous
        {"item": "image 'nowhere.jpg' (line 6)", "reason": "caption for unknown image"},
    ]
    # a plain list of keys: image_id is the matched key
    matched, errors = match_images(captions.iloc[:3], ["001.Cardinal/x.jpg", "val2014/y.jpg"])
    assert matched["image_id"].tolist() == ["001.Cardinal/x.jpg"] * 2 + ["val2014/y.jpg"]
    assert errors == []
