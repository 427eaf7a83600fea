"""Tests of the built-in "planted birds" synthetic dataset."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from filterspeak.datasets.synthetic import (
    MAX_CLASSES,
    PART_LABELS,
    BirdSpec,
    PartSpec,
    SyntheticConfig,
    SyntheticDataset,
    class_specs,
    generate_synthetic,
    image_rngs,
    make_captions,
    render_bird,
    sample_bird,
)
from filterspeak.datasets.synthetic_spec import (
    COLOURS,
    MAX_CONFUSABLE_PAIRS,
    PALETTE,
    PART_COLOURS,
    PARTS,
    PATTERN_WORDS,
    phrase_kind,
    satisfies,
    species,
)

SMALL = SyntheticConfig(seed=3, num_classes=12, images_per_class=4, image_size=64)

_COLOUR_RE = "|".join((*COLOURS, "gray"))
_NOUN_RE = "wings|wing|crown|beak|bill|breast|chest|tail"
_INTENS = r"(?:(?:bright|vivid|deep) )?"
_PAT = r"(?:striped |spotted )?"
# "<c> [and <c>] [pattern] <noun>", "<pattern> <c> [and <c>] <noun>",
# "<noun> [that] is|are [intens] [pattern] <c> [and <c>]"
_ATTRIBUTIVE = re.compile(rf"\b{_PAT}{_INTENS}({_COLOUR_RE})(?: and ({_COLOUR_RE}))? {_PAT}({_NOUN_RE})\b")
_PREDICATE = re.compile(rf"\b({_NOUN_RE}) (?:that )?(?:is|are) {_INTENS}{_PAT}({_COLOUR_RE})(?: and ({_COLOUR_RE}))?\b")
_NOUN = {"wings": "wing", "bill": "beak", "chest": "breast"}


def _canon(word: str) -> str:
    word = word.lower()
    return {"gray": "grey"}.get(word, _NOUN.get(word, word))


def stated_pairs(text: str) -> set[str]:
    """Colour + part phrases a caption states (simple regex over the canonical words)."""
    text = text.lower()
    out = set()
    for m in _ATTRIBUTIVE.finditer(text):
        c1, c2, noun = m.groups()
        for c in (c1, c2):
            if c:
                out.add(f"{_canon(c)} {_canon(noun)}")
    for m in _PREDICATE.finditer(text):
        noun, c1, c2 = m.groups()
        for c in (c1, c2):
            if c:
                out.add(f"{_canon(c)} {_canon(noun)}")
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> SyntheticDataset:
    return generate_synthetic(SMALL, tmp_path_factory.mktemp("planted_a"))


def _truth_sets(ds: SyntheticDataset) -> dict[int, set[str]]:
    return {int(k): set(g["phrase"]) for k, g in ds.image_truth.groupby("image_id")}


# ---------------------------------------------------------------------------------------------
# config and catalogue


@pytest.mark.parametrize("n", [0, 5, 11])
def test_too_few_classes_is_a_clear_value_error(n):
    with pytest.raises(ValueError, match="at least 12"):
        SyntheticConfig(num_classes=n)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": MAX_CLASSES + 1}, f"num_classes must be at most {MAX_CLASSES}, got {MAX_CLASSES + 1}"),
        ({"images_per_class": 0}, "images_per_class must be >= 1, got 0"),
        ({"test_fraction": 1.0}, "test_fraction must be in [0, 1), got 1.0"),
        ({"test_fraction": -0.1}, "test_fraction must be in [0, 1), got -0.1"),
        ({"caption_noise": 1.5}, "caption_noise must be in [0, 1], got 1.5"),
        ({"captions_per_image": 0}, "captions_per_image must be >= 1, got 0"),
        ({"image_size": 8}, "image_size must be >= 32 pixels, got 8"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
    ],
)
def test_invalid_config_values(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SyntheticConfig(**kwargs)


def test_defaults():
    cfg = SyntheticConfig()
    assert (cfg.num_classes, cfg.images_per_class, cfg.image_size) == (16, 200, 64)
    assert cfg.captions_per_image >= 5 and cfg.caption_noise == 0.05 and cfg.test_fraction == 0.3


@pytest.mark.parametrize("n", range(12, MAX_CLASSES + 1))
def test_class_catalogue_design_rules_hold_for_every_size(n):
    classes = class_specs(n)
    counts = Counter(p for c in classes for p in c.definition)
    # every defining phrase is shared by at least two classes
    assert min(counts.values()) >= 2, counts
    defs = [frozenset(c.definition) for c in classes]
    for i, a in enumerate(defs):
        assert 2 <= len(a) <= 3
        assert len({phrase.split()[1] for phrase in a}) == len(a)  # one phrase per part
        for j, b in enumerate(defs):
            if i != j:
                assert not a <= b, (classes[i].name, classes[j].name)  # no equal / nested definitions
    parts = {p.split()[1] for p in counts}
    assert parts == set(PARTS)
    kinds = {phrase_kind(p) for p in counts}
    assert kinds == {"colour", "pattern"}
    assert {p.split()[0] for p in counts} >= set(PATTERN_WORDS)
    names = [c.name for c in classes]
    assert len(set(names)) == n and all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", s) for s in names)


# ---------------------------------------------------------------------------------------------
# tables


def test_table_schemas_and_dtypes(small):
    n = 12 * 4
    assert list(small.images.columns)[:4] == ["image_id", "split", "path", "class_id"]
    assert str(small.images["image_id"].dtype) == "int64" and str(small.images["class_id"].dtype) == "int64"
    assert small.images["image_id"].tolist() == list(range(n))
    assert pd.api.types.is_string_dtype(small.images["split"])
    assert pd.api.types.is_string_dtype(small.images["path"])
    assert small.images["path"].iloc[42] == "images/00042.png"
    assert sorted(small.images["class_id"].unique().tolist()) == list(range(12))
    assert (small.images.groupby("class_id").size() == 4).all()

    assert list(small.classes.columns)[:2] == ["class_id", "name"]
    assert str(small.classes["class_id"].dtype) == "int64"
    assert small.classes["class_id"].tolist() == list(range(12))
    assert small.classes["name"].iloc[0] == "Crimson Tanager"

    assert list(small.captions.columns)[:3] == ["caption_id", "image_id", "text"]
    assert str(small.captions["caption_id"].dtype) == "int64" and str(small.captions["image_id"].dtype) == "int64"
    assert small.captions["caption_id"].tolist() == list(range(len(small.captions)))

    assert list(small.image_truth.columns)[:4] == ["image_id", "part", "phrase", "kind"]
    assert str(small.image_truth["image_id"].dtype) == "int64"
    assert set(small.image_truth["kind"]) == {"colour", "pattern", "marking"}
    assert set(small.image_truth["part"]) == set(PARTS)

    assert list(small.class_definitions.columns)[:3] == ["class_id", "part", "phrase"]
    assert str(small.class_definitions["class_id"].dtype) == "int64"

    assert small.masks_path == small.root / "masks.npz"
    for path in small.images["path"]:
        assert (small.root / path).is_file()
    with Image.open(small.root / small.images["path"].iloc[0]) as im:
        assert im.size == (64, 64) and im.mode == "RGB"


def test_truth_phrases_are_canonical(small):
    for part, phrase, kind in small.image_truth[["part", "phrase", "kind"]].itertuples(index=False):
        modifier, noun = phrase.split(" ")
        if kind == "marking":  # the stripes/spots of a patterned part, in its secondary colour
            assert modifier in COLOURS and noun in ("stripe", "spot")
            continue
        assert noun == part
        assert modifier in (COLOURS if kind == "colour" else PATTERN_WORDS)
    assert "solid" not in " ".join(small.image_truth["phrase"])
    # crown and beak carry one colour only; beaks use the beak palette
    per_part = small.image_truth.groupby(["image_id", "part"]).size().unstack()
    assert (per_part["crown"] == 1).all() and (per_part["beak"] == 1).all()
    beaks = small.image_truth[small.image_truth["part"] == "beak"]["phrase"].str.split().str[0]
    assert set(beaks) <= set(PART_COLOURS["beak"])
    # a patterned part lists two colours plus its pattern
    for (image_id, part), g in small.image_truth.groupby(["image_id", "part"]):
        n_colours = int((g["kind"] == "colour").sum())
        n_patterns = int((g["kind"] == "pattern").sum())
        n_markings = int((g["kind"] == "marking").sum())
        assert (n_colours, n_patterns, n_markings) in {(1, 0, 0), (2, 1, 1)}, (image_id, part, g["phrase"].tolist())
        if n_markings:  # the marking is in the secondary (second) colour, named after the pattern
            colours = g.loc[g["kind"] == "colour", "phrase"].str.split().str[0].tolist()
            pattern = g.loc[g["kind"] == "pattern", "phrase"].iloc[0].split()[0]
            marking = g.loc[g["kind"] == "marking", "phrase"].iloc[0]
            assert marking == f"{colours[1]} {'stripe' if pattern == 'striped' else 'spot'}"


def test_truth_is_consistent_with_class_definitions(small):
    truth = _truth_sets(small)
    definitions = {int(k): set(g["phrase"]) for k, g in small.class_definitions.groupby("class_id")}
    classes = class_specs(12)
    for image_id, class_id in small.images[["image_id", "class_id"]].itertuples(index=False):
        present = truth[image_id]
        assert definitions[class_id] <= present, (image_id, definitions[class_id], present)
        # never carries another class's full definition: the label is recoverable
        others = [c.class_id for c in classes if satisfies(present, c)]
        assert others == [class_id]


def test_non_defining_attributes_vary(tmp_path):
    cfg = SyntheticConfig(seed=1, num_classes=12, images_per_class=30, image_size=32)
    rngs = [image_rngs(cfg.seed, i)[0] for i in range(30)]
    specs = [sample_bird(0, cfg, rng) for rng in rngs]
    assert all({"red crown", "striped wing"} <= s.phrases() for s in specs)
    assert len({s.breast.colour for s in specs}) >= 4
    assert len({s.tail.pattern for s in specs}) == 3
    assert {s.facing for s in specs} == {"left", "right"}
    assert all(0.8 <= s.scale <= 1.1 for s in specs)


# ---------------------------------------------------------------------------------------------
# determinism and split


def _snapshot(ds: SyntheticDataset) -> dict[str, bytes]:
    files = {str(p.relative_to(ds.root)): p.read_bytes() for p in sorted(ds.root.rglob("*")) if p.is_file()}
    return files


def test_same_config_gives_identical_bytes_and_tables(small, tmp_path):
    again = generate_synthetic(SMALL, tmp_path / "b")
    a, b = _snapshot(small), _snapshot(again)
    assert sorted(a) == sorted(b)
    assert len([k for k in a if k.endswith(".png")]) == 48
    for k in a:
        assert a[k] == b[k], k
    for name in ("images", "classes", "captions", "image_truth", "class_definitions"):
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name))


def test_other_seed_gives_other_data(small, tmp_path):
    other = generate_synthetic(SyntheticConfig(seed=4, num_classes=12, images_per_class=4, image_size=64), tmp_path / "c")
    a = (small.root / "images/00000.png").read_bytes()
    b = (other.root / "images/00000.png").read_bytes()
    assert a != b
    assert not small.captions["text"].equals(other.captions["text"])


def test_split_fraction_per_class(small, tmp_path):
    counts = small.images.groupby("class_id")["split"].apply(lambda s: (s == "test").sum())
    assert (counts == 1).all()  # round(0.3 * 4)
    assert set(small.images["split"]) == {"train", "test"}
    ds = generate_synthetic(
        SyntheticConfig(seed=3, num_classes=12, images_per_class=10, image_size=32, captions_per_image=1), tmp_path / "split"
    )
    counts = ds.images.groupby("class_id")["split"].apply(lambda s: (s == "test").sum())
    assert (counts == 3).all()
    assert (ds.images["split"] == "test").mean() == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------------
# masks and pixels


def _crown_colours(ds: SyntheticDataset) -> dict[int, str]:
    crown = ds.image_truth[ds.image_truth["part"] == "crown"]
    return {int(i): p.split()[0] for i, p in zip(crown["image_id"], crown["phrase"])}


def test_masks_have_every_part_and_crown_pixels_have_the_crown_colour(small):
    with np.load(small.masks_path) as z:
        ids, masks = z["image_id"], z["masks"]
    assert ids.dtype == np.int64 and masks.dtype == np.uint8
    assert ids.tolist() == small.images["image_id"].tolist()
    assert masks.shape == (48, 64, 64)
    assert set(np.unique(masks).tolist()) <= set(PART_LABELS.values())
    palette = np.array([PALETTE[c] for c in COLOURS], dtype=float)
    crown_colour = _crown_colours(small)
    for image_id, path in small.images[["image_id", "path"]].itertuples(index=False):
        mask = masks[image_id]
        for part in PARTS:
            assert (mask == PART_LABELS[part]).sum() >= 3, (image_id, part)
        assert (mask == PART_LABELS["background"]).mean() > 0.4
        image = np.asarray(Image.open(small.root / path).convert("RGB"), dtype=float)
        median = np.median(image[mask == PART_LABELS["crown"]], axis=0)
        nearest = COLOURS[int(np.argmin(((palette - median) ** 2).sum(1)))]
        assert nearest == crown_colour[image_id], (image_id, median, crown_colour[image_id])
        assert np.abs(median - PALETTE[crown_colour[image_id]]).max() < 40


def test_background_is_never_a_part_colour(small):
    with np.load(small.masks_path) as z:
        masks = z["masks"]
    palette = np.array(list(PALETTE.values()), dtype=float)
    for image_id, path in small.images[["image_id", "path"]].itertuples(index=False):
        image = np.asarray(Image.open(small.root / path).convert("RGB"), dtype=float)
        bg = image[masks[image_id] == 0]
        # far from the background edges of the bird (outline and anti-aliasing): take the median
        median = np.median(bg, axis=0)
        assert np.sqrt(((palette - median) ** 2).sum(1)).min() > 30
        hsv = np.asarray(Image.fromarray(image.astype(np.uint8)).convert("HSV"), dtype=float)
        assert np.median(hsv[masks[image_id] == 0][:, 1]) / 255 < 0.45  # low-to-mid saturation


def test_render_bird_standalone():
    cfg = SyntheticConfig(num_classes=16)
    spec = sample_bird(9, cfg, np.random.default_rng(7))
    assert isinstance(spec, BirdSpec) and spec.class_id == 9
    assert {"spotted breast", "brown wing"} <= spec.phrases()
    img1, mask1 = render_bird(spec, 64, np.random.default_rng(1))
    img2, mask2 = render_bird(spec, 64, np.random.default_rng(2))
    assert img1.shape == (64, 64, 3) and img1.dtype == np.uint8
    assert mask1.shape == (64, 64) and mask1.dtype == np.uint8
    assert np.array_equal(mask1, mask2)  # the pose belongs to the spec
    assert not np.array_equal(img1, img2)  # background / jitter / noise belong to the rng
    img3, mask3 = render_bird(spec, 64, np.random.default_rng(1))
    assert np.array_equal(img1, img3) and np.array_equal(mask1, mask3)
    big, big_mask = render_bird(spec, 128, np.random.default_rng(1))
    assert big.shape == (128, 128, 3)
    assert {PART_LABELS[p] for p in PARTS} <= set(np.unique(big_mask).tolist())


def test_left_and_right_facing_are_mirrored():
    base = {
        "class_id": 0,
        "crown": PartSpec("red"),
        "beak": PartSpec("black"),
        "breast": PartSpec("yellow", "spotted", "black"),
        "wing": PartSpec("blue", "striped", "white"),
        "tail": PartSpec("grey"),
    }
    _, right = render_bird(BirdSpec(**base, facing="right"), 64, np.random.default_rng(0))
    _, left = render_bird(BirdSpec(**base, facing="left"), 64, np.random.default_rng(0))
    beak_r = np.argwhere(right == PART_LABELS["beak"])[:, 1].mean()
    tail_r = np.argwhere(right == PART_LABELS["tail"])[:, 1].mean()
    assert beak_r > tail_r
    beak_l = np.argwhere(left == PART_LABELS["beak"])[:, 1].mean()
    tail_l = np.argwhere(left == PART_LABELS["tail"])[:, 1].mean()
    assert beak_l < tail_l
    # crown is on top of the head, breast below the wing centre
    rows = {p: np.argwhere(right == PART_LABELS[p])[:, 0].mean() for p in ("crown", "breast", "wing")}
    assert rows["crown"] < rows["wing"] < rows["breast"]


def test_part_spec_validation():
    with pytest.raises(ValueError, match="unknown colour 'purple'"):
        PartSpec("purple")
    with pytest.raises(ValueError, match="a patterned part needs a secondary colour"):
        PartSpec("red", "striped")  # no secondary
    with pytest.raises(ValueError, match="bad secondary colour 'red'"):
        PartSpec("red", "striped", "red")
    with pytest.raises(ValueError, match="crown cannot be patterned"):
        BirdSpec(0, PartSpec("red", "striped", "blue"), PartSpec("black"), PartSpec("red"), PartSpec("red"), PartSpec("red"))


# ---------------------------------------------------------------------------------------------
# captions


def test_caption_count_and_form(small):
    per_image = small.captions.groupby("image_id").size()
    assert per_image.index.tolist() == list(range(48))
    assert (per_image == SMALL.captions_per_image).all() and SMALL.captions_per_image >= 5
    for text in small.captions["text"]:
        assert text.endswith(".") and text[0].isupper(), text
        assert 1 <= text.count(".") <= 2, text
        assert "  " not in text and " ." not in text and " ," not in text, text


def test_captions_without_noise_state_only_true_pairs(tmp_path):
    ds = generate_synthetic(
        SyntheticConfig(seed=5, num_classes=12, images_per_class=6, image_size=32, caption_noise=0.0), tmp_path / "clean"
    )
    truth = _truth_sets(ds)
    n_pairs = 0
    for image_id, text in ds.captions[["image_id", "text"]].itertuples(index=False):
        pairs = stated_pairs(text)
        n_pairs += len(pairs)
        assert pairs <= truth[image_id], (text, pairs - truth[image_id])
    assert n_pairs > len(ds.captions)  # the regex does find the stated pairs


def test_caption_noise_states_wrong_colours(tmp_path):
    ds = generate_synthetic(
        SyntheticConfig(seed=5, num_classes=12, images_per_class=6, image_size=32, caption_noise=0.5), tmp_path / "noisy"
    )
    truth = _truth_sets(ds)
    wrong = [bool(stated_pairs(t) - truth[i]) for i, t in ds.captions[["image_id", "text"]].itertuples(index=False)]
    rate = float(np.mean(wrong))
    assert 0.3 < rate <= 0.55, rate  # at most one wrong part per noisy caption, most detectable


def test_caption_variety(tmp_path):
    cfg = SyntheticConfig(seed=2, num_classes=12, images_per_class=10, image_size=32)
    rng_sets = [image_rngs(cfg.seed, i) for i in range(120)]
    texts = []
    for i, (spec_rng, _, cap_rng) in enumerate(rng_sets):
        spec = sample_bird(i % 12, cfg, spec_rng)
        texts += make_captions(spec, 5, cfg.caption_noise, cap_rng)
    joined = " ".join(texts).lower()
    for needle in (
        " bill",
        " chest",
        " wings",
        " wing ",
        "gray",
        "bright ",
        "deep ",
        " that is ",
        " that are ",
        " is ",
        " are ",
        "striped",
        "spotted",
        " with ",
        "its ",
        "perched on a branch",
        "blurry",
    ):
        assert needle in joined, needle
    assert re.search(rf"\b({_COLOUR_RE}) and ({_COLOUR_RE}) (striped |spotted )?wings?\b", joined)
    assert re.search(rf"\b(striped|spotted) ({_COLOUR_RE}) ", joined)
    assert re.search(rf"\b({_COLOUR_RE}) (striped|spotted) ", joined)
    assert re.search(rf"\ba ({_COLOUR_RE}) \w+ and an? ({_COLOUR_RE}) ", joined)
    # parts mentioned per caption: between 2 and 4 of the five
    for t in texts:
        nouns = {_canon(n) for n in re.findall(rf"\b({_NOUN_RE})\b", t.lower())}
        assert 2 <= len(nouns) <= 4, t
    assert len(set(texts)) > 0.9 * len(texts)
    # only canonical colour words: no other colour adjectives sneak in
    assert not re.search(r"\b(purple|pink|violet|cyan|tan|beige|olive|gold|golden|crimson)\b", joined)


def test_progress_flag_works(tmp_path, capsys):
    cfg = SyntheticConfig(seed=0, num_classes=12, images_per_class=1, image_size=32)
    ds = generate_synthetic(cfg, tmp_path / "p", progress=True)
    assert len(ds.images) == 12
    assert Path(ds.masks_path).is_file()


# ---------------------------------------------------------------------------------------------
# confusable twins (--confusable-pairs)


def test_no_twins_by_default_keeps_the_catalogue():
    assert SyntheticConfig().species == class_specs(16)
    assert SyntheticConfig(confusable_pairs=0).num_images == 16 * 200


@pytest.mark.parametrize("n", range(12, MAX_CLASSES + 1))
def test_twins_differ_from_their_base_in_exactly_one_attribute_and_nest_with_no_class(n):
    everyone = species(n, MAX_CONFUSABLE_PAIRS)
    twins = everyone[n:]
    assert [t.class_id for t in twins] == list(range(n, n + MAX_CONFUSABLE_PAIRS))
    for twin in twins:
        base = everyone[twin.twin_of]
        assert base.twin_of is None and len(set(twin.definition) ^ set(base.definition)) == 2
        (old,), (new,) = set(base.definition) - set(twin.definition), set(twin.definition) - set(base.definition)
        assert old.split()[1] == new.split()[1]  # the same part
        for other in everyone:
            if other is not twin:
                assert not set(twin.definition) <= set(other.definition) and not set(other.definition) <= set(twin.definition)


def test_too_many_twins_is_an_option_error():
    with pytest.raises(ValueError, match=f"confusable_pairs must be in \\[0, {MAX_CONFUSABLE_PAIRS}\\]"):
        SyntheticConfig(confusable_pairs=MAX_CONFUSABLE_PAIRS + 1)


def test_twin_images_carry_the_planted_difference(tmp_path):
    config = SyntheticConfig(seed=3, num_classes=12, images_per_class=6, image_size=64, confusable_pairs=2)
    ds = generate_synthetic(config, tmp_path)
    assert list(ds.classes["name"].iloc[12:]) == ["Cerulean Finch", "Dusky Flycatcher"]
    planted = ds.planted_confusions
    assert planted.to_dict("records")[0] == {
        "twin_class_id": 12,
        "base_class_id": 10,
        "part": "beak",
        "base_phrase": "orange beak",
        "twin_phrase": "yellow beak",
    }
    assert set(ds.class_definitions.loc[ds.class_definitions["class_id"] == 12, "phrase"]) == {"yellow beak", "blue wing"}
    truth, classes = _truth_sets(ds), ds.images.set_index("image_id")["class_id"]
    for row in planted.itertuples():
        for image_id, class_id in classes.items():
            if class_id == row.twin_class_id:
                assert row.twin_phrase in truth[image_id] and row.base_phrase not in truth[image_id]
            if class_id == row.base_class_id:
                assert row.base_phrase in truth[image_id] and row.twin_phrase not in truth[image_id]
    assert len(ds.images) == 14 * 6 and (ds.images.groupby("class_id")["split"].apply(lambda s: (s == "test").sum()) == 2).all()
