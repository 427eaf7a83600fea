"""Vocabulary building and p(a|x) on hand-made frames with known document frequencies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from filterspeak.captions.vocabulary import build_vocabulary, image_attribute_counts


def _frame(spec):
    """spec: {phrase: {image_id: occurrences}} → one row per occurrence."""
    rows = []
    for phrase, per_image in spec.items():
        modifier, noun = phrase.rsplit(" ", 1)
        for image_id, n in per_image.items():
            rows += [{"image_id": image_id, "phrase": phrase, "modifier": modifier, "noun": noun}] * n
    return pd.DataFrame(rows, columns=["image_id", "phrase", "modifier", "noun"])


# document frequencies: red crown 6, black wing 4, blue beak 4, white belly 3,
# light brown back 2, striped tail 1 (but 5 occurrences)
SPEC = {
    "black wing": {1: 2, 2: 1, 3: 1, 4: 3},
    "red crown": {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2},
    "blue beak": {3: 1, 4: 1, 5: 1, 7: 1},
    "white belly": {1: 1, 5: 1, 7: 4},
    "light brown back": {2: 1, 6: 1},
    "striped tail": {8: 5},
}


@pytest.fixture
def phrases():
    df = _frame(SPEC)
    return df.sample(frac=1.0, random_state=0).reset_index(drop=True)  # order must not matter


def test_exact_ids_and_document_frequency(phrases):
    v = build_vocabulary(phrases, min_df=1)
    assert list(v.columns) == ["attribute_id", "phrase", "modifier", "noun", "document_frequency"]
    assert v["attribute_id"].dtype == np.int64 and v["document_frequency"].dtype == np.int64
    assert v["phrase"].tolist() == [
        "red crown",
        "black wing",
        "blue beak",
        "white belly",
        "light brown back",
        "striped tail",
    ]  # df desc, then phrase asc (black wing < blue beak at df 4)
    assert v["attribute_id"].tolist() == [0, 1, 2, 3, 4, 5]
    assert v["document_frequency"].tolist() == [6, 4, 4, 3, 2, 1]
    row = v.set_index("phrase").loc["light brown back"]
    assert (row["modifier"], row["noun"]) == ("light brown", "back")


def test_min_df_cutoff(phrases):
    v = build_vocabulary(phrases, min_df=4)
    assert v["phrase"].tolist() == ["red crown", "black wing", "blue beak"]
    assert v["attribute_id"].tolist() == [0, 1, 2]
    # occurrences don't count, images do: 'striped tail' has 5 occurrences in 1 image
    assert "striped tail" not in build_vocabulary(phrases, min_df=2)["phrase"].tolist()
    assert build_vocabulary(phrases, min_df=7).empty
    assert build_vocabulary(phrases).shape[0] == 1  # default min_df=5: only red crown


def test_max_size_cutoff(phrases):
    v = build_vocabulary(phrases, min_df=1, max_size=2)
    assert v["phrase"].tolist() == ["red crown", "black wing"]
    assert v["attribute_id"].tolist() == [0, 1]
    assert build_vocabulary(phrases, min_df=1, max_size=0).empty
    assert len(build_vocabulary(phrases, min_df=1, max_size=100)) == 6


def test_stable_under_row_order(phrases):
    a = build_vocabulary(phrases, min_df=1)
    b = build_vocabulary(phrases.iloc[::-1].reset_index(drop=True), min_df=1)
    pd.testing.assert_frame_equal(a, b)


def test_bad_arguments(phrases):
    with pytest.raises(ValueError, match="min_df must be an integer >= 1, got 0"):
        build_vocabulary(phrases, min_df=0)
    with pytest.raises(ValueError, match="max_size must be None or an integer >= 0, got -1"):
        build_vocabulary(phrases, max_size=-1)
    with pytest.raises(ValueError, match="noun"):
        build_vocabulary(phrases.drop(columns=["noun"]))
    v = build_vocabulary(phrases, min_df=1)
    with pytest.raises(ValueError, match="weighting must be .*'tfidf'"):
        image_attribute_counts(phrases, v, weighting="tfidf")


def test_empty_input():
    empty = _frame({})
    v = build_vocabulary(empty, min_df=1)
    assert v.empty and next(iter(v.columns)) == "attribute_id"
    assert v["attribute_id"].dtype == np.int64
    c = image_attribute_counts(empty, v)
    assert c.empty and list(c.columns) == ["image_id", "attribute_id", "count", "probability"]


def test_negated_rows_are_ignored(phrases):
    extra = phrases.head(3).assign(phrase="green wing", modifier="green", noun="wing")
    df = pd.concat([phrases.assign(negated=False), extra.assign(negated=True)])
    assert "green wing" not in build_vocabulary(df, min_df=1)["phrase"].tolist()


def test_counts_probabilities(phrases):
    v = build_vocabulary(phrases, min_df=2)  # red crown 0, black wing 1, blue beak 2,
    c = image_attribute_counts(phrases, v)  # white belly 3, light brown back 4
    assert list(c.columns) == ["image_id", "attribute_id", "count", "probability"]
    assert c["attribute_id"].dtype == np.int64 and c["count"].dtype == np.int64
    assert c["probability"].dtype == np.float64
    # image 8 only has 'striped tail' (out of vocabulary) → absent
    assert sorted(c["image_id"].unique().tolist()) == [1, 2, 3, 4, 5, 6, 7]
    img1 = c[c["image_id"] == 1].set_index("attribute_id")
    assert img1["count"].to_dict() == {0: 1, 1: 2, 3: 1}
    assert img1["probability"].to_dict() == pytest.approx({0: 0.25, 1: 0.5, 3: 0.25})
    img7 = c[c["image_id"] == 7].set_index("attribute_id")
    assert img7["probability"].to_dict() == pytest.approx({2: 0.2, 3: 0.8})
    sums = c.groupby("image_id")["probability"].sum()
    assert np.allclose(sums.to_numpy(), 1.0)
    # sorted by image then attribute
    assert list(zip(c["image_id"], c["attribute_id"])) == sorted(zip(c["image_id"], c["attribute_id"]))


def test_presence_probabilities(phrases):
    v = build_vocabulary(phrases, min_df=2)
    c = image_attribute_counts(phrases, v, weighting="presence")
    img1 = c[c["image_id"] == 1].set_index("attribute_id")
    assert img1["count"].to_dict() == {0: 1, 1: 2, 3: 1}  # counts are still reported
    assert img1["probability"].to_dict() == pytest.approx({0: 1 / 3, 1: 1 / 3, 3: 1 / 3})
    img7 = c[c["image_id"] == 7].set_index("attribute_id")
    assert img7["probability"].to_dict() == pytest.approx({2: 0.5, 3: 0.5})
    assert np.allclose(c.groupby("image_id")["probability"].sum().to_numpy(), 1.0)


def test_string_image_ids(phrases):
    df = phrases.assign(image_id=phrases["image_id"].map(lambda i: f"img{i:03d}.jpg"))
    v = build_vocabulary(df, min_df=2)
    c = image_attribute_counts(df, v)
    assert c["image_id"].iloc[0] == "img001.jpg"
    assert np.allclose(c.groupby("image_id")["probability"].sum().to_numpy(), 1.0)


def test_end_to_end_with_parser():
    """Parser output → image_phrases → vocabulary (the shape the pipeline stage uses); the NLTK
    data ships in the package, so this never skips."""
    from filterspeak.captions.parser import CaptionParser

    captions = {
        1: ["a bird with a red crown and black wings", "this bird has a red crown"],
        2: ["the crown is red and the wings are black"],
        3: ["a small bird with black wings and no red crown"],
    }
    parser = CaptionParser()
    rows = [
        {"image_id": img, "phrase": p.text, "modifier": p.modifier, "noun": p.noun}
        for img, caps in captions.items()
        for cap, phrases in zip(caps, parser.parse_many(caps))
        for p in phrases
    ]
    v = build_vocabulary(pd.DataFrame(rows), min_df=2)
    assert v["phrase"].tolist() == ["black wing", "red crown"]
    assert v["document_frequency"].tolist() == [3, 2]
    c = image_attribute_counts(pd.DataFrame(rows), v)
    assert c[c["image_id"] == 1].set_index("attribute_id")["count"].to_dict() == {0: 1, 1: 2}
