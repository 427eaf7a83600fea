"""CUB-200-2011's 312 attribute annotations → caption text, for datasets without human captions.

CUB names attributes `has_<part>_<kind>::<value>` (has_wing_color::blue,
has_bill_shape::hooked). Each maps to a short noun phrase ("blue wings", "a hooked bill") or
to nothing when it has no visual adjective+noun reading (size, overall shape, "plain" head).
Captions derived this way are marked `origin = 'derived'` in the captions table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterspeak.datasets.base import DatasetError, read_dataset_text

_PART_NOUNS = {
    "bill": "bill",
    "wing": "wings",
    "upperparts": "upperparts",
    "underparts": "underparts",
    "breast": "breast",
    "back": "back",
    "upper_tail": "tail",
    "under_tail": "tail",
    "head": "head",
    "throat": "throat",
    "eye": "eyes",
    "forehead": "forehead",
    "nape": "nape",
    "belly": "belly",
    "leg": "legs",
    "crown": "crown",
    "primary": "body",
    "tail": "tail",
}
_SHAPES = {
    "bill_shape": {
        "curved_(up_or_down)": "curved",
        "dagger": "dagger-shaped",
        "hooked": "hooked",
        "needle": "needle-shaped",
        "hooked_seabird": "hooked",
        "spatulate": "spatulate",
        "cone": "cone-shaped",
    },
    "bill_length": {"longer_than_head": "long", "shorter_than_head": "short"},
    "wing_shape": {
        "rounded-wings": "rounded",
        "pointed-wings": "pointed",
        "broad-wings": "broad",
        "tapered-wings": "tapered",
        "long-wings": "long",
    },
    "tail_shape": {
        "forked_tail": "forked",
        "rounded_tail": "rounded",
        "notched_tail": "notched",
        "fan-shaped_tail": "fan-shaped",
        "pointed_tail": "pointed",
        "squared_tail": "squared",
    },
    "head_pattern": {"spotted": "spotted", "crested": "crested", "masked": "masked", "striped": "striped", "capped": "capped"},
}
_SHAPE_NOUNS = {"bill_shape": "bill", "bill_length": "bill", "wing_shape": "wings", "tail_shape": "tail", "head_pattern": "head"}
_PATTERNS = {"spotted": "spotted", "striped": "striped", "multi-colored": "multi-colored"}


@dataclass(frozen=True)
class CubAttribute:
    attribute_id: int  # CUB's 1-based id
    name: str  # has_wing_color::blue
    text: str | None  # caption snippet ("blue wings"), None when it has no visual phrase


def attribute_text(name: str) -> str | None:
    """'has_wing_color::blue' → 'blue wings'; 'has_size::small_(5_-_9_in)' → None."""
    group, _, value = name.partition("::")
    group = group.removeprefix("has_")
    if group in _SHAPES:
        modifier = _SHAPES[group].get(value)
        return f"{modifier} {_SHAPE_NOUNS[group]}" if modifier else None
    part, _, kind = group.rpartition("_")
    noun = _PART_NOUNS.get(part)
    if noun is None:
        return None
    if kind == "color":
        return f"{value.replace('_', ' ')} {noun}"
    if kind == "pattern":
        modifier = _PATTERNS.get(value)
        return f"{modifier} {noun}" if modifier else None
    return None


def read_attributes(path: Path) -> list[CubAttribute]:
    """CUB's attributes.txt: '<id> <name>' per line."""
    attributes = []
    for line in read_dataset_text(path).splitlines():
        if line.strip():
            identifier, name = line.split(maxsplit=1)
            attributes.append(CubAttribute(int(identifier), name.strip(), attribute_text(name.strip())))
    return attributes


def read_class_percentages(class_names_path: Path, percentages_path: Path) -> pd.DataFrame:
    """(class name → 312 percentages) from CUB's class list ('<id> <NNN.Name>') and the continuous labels."""
    names = [line.split(maxsplit=1)[1].split(".", 1)[1] for line in read_dataset_text(class_names_path).splitlines() if line.strip()]
    try:
        values = np.loadtxt(percentages_path)
    except OSError as error:
        raise DatasetError(f"cannot read {percentages_path}: {error.strerror or error}") from error
    except ValueError as error:  # a non-number or a short row in the user's file
        raise DatasetError(f"cannot read {percentages_path}: {error}") from None
    if values.shape[0] != len(names):
        raise DatasetError(f"{percentages_path} has {values.shape[0]} rows for {len(names)} classes in {class_names_path}")
    return pd.DataFrame(values, index=pd.Index(names, name="class_name"))


_TEMPLATES = ("this bird has {list}.", "a bird with {list}.", "the bird has {list}.", "this is a bird with {list}.")


def _listing(snippets: list[str]) -> str:
    with_articles = [s if s.endswith("s") else ("an " if s[0] in "aeiou" else "a ") + s for s in snippets]
    return with_articles[0] if len(with_articles) == 1 else ", ".join(with_articles[:-1]) + " and " + with_articles[-1]


def _group(name: str) -> str:
    return name.partition("::")[0]


def sample_present(percentages: np.ndarray, attributes: list[CubAttribute], rng: np.random.Generator) -> np.ndarray:
    """A plausible attribute set for one image from its class's percentages.

    Colour groups: each colour present with probability pct/100, at most the two likeliest
    kept (a wing is not five colours). Other groups (shapes, patterns) are exclusive: one value
    drawn in proportion to the percentages, present with probability min(1, Σ pct / 100).
    """
    present = np.zeros(len(attributes), dtype=bool)
    groups: dict[str, list[int]] = {}
    for index, attribute in enumerate(attributes):
        groups.setdefault(_group(attribute.name), []).append(index)
    for group, members in groups.items():
        weights = percentages[members] / 100.0
        if group.endswith("_color"):
            drawn = [m for m, w in zip(members, weights) if rng.random() < w]
            for m in sorted(drawn, key=lambda m: -percentages[m])[:2]:
                present[m] = True
        elif weights.sum() > 0 and rng.random() < min(1.0, weights.sum()):
            present[members[int(rng.choice(len(members), p=weights / weights.sum()))]] = True
    return present


def derive_captions(
    image_classes: pd.DataFrame,
    percentages: pd.DataFrame,
    attributes: list[CubAttribute],
    captions_per_image: int = 5,
    seed: int = 0,
    image_attributes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Captions per image from its attributes.

    `image_classes` has image_id, class_name. With `image_attributes` (image_id, attribute_id of
    present attributes: CUB's per-image labels) those are used; otherwise each image's
    attributes are sampled from its class's percentages (`sample_present`).
    Returns caption rows: image_id, text.
    """
    texts = np.array([a.text or "" for a in attributes], dtype=object)
    usable = np.array([a.text is not None for a in attributes])
    per_image = None
    if image_attributes is not None:
        index = {a.attribute_id: i for i, a in enumerate(attributes)}
        per_image = image_attributes.groupby("image_id")["attribute_id"].apply(lambda ids: [index[i] for i in ids if i in index])
    rows = []
    for image_id, class_name in zip(image_classes["image_id"], image_classes["class_name"]):
        rng = np.random.default_rng([seed, int(image_id)])
        if per_image is not None:
            present = np.zeros(len(attributes), dtype=bool)
            present[per_image.get(image_id, [])] = True
        else:
            present = sample_present(percentages.loc[class_name].to_numpy(), attributes, rng)
        snippets = list(dict.fromkeys(texts[present & usable]))
        if not snippets:
            continue
        for _ in range(captions_per_image):
            count = min(len(snippets), int(rng.integers(2, 6)))
            chosen = [snippets[i] for i in rng.choice(len(snippets), size=count, replace=False)]
            template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
            rows.append((int(image_id), template.format(list=_listing(chosen))))
    return pd.DataFrame(rows, columns=["image_id", "text"])
