"""Stage `captions`: caption text → attribute vocabulary and p(a|x) per image.

Keyed only by the captions and images tables and the parser settings: a new backbone never
re-parses.
"""

from __future__ import annotations

import sys

from dataclasses import dataclass, field, fields
from typing import Literal

import pandas as pd

from filterspeak.captions import lexicon, parser, vocabulary
from filterspeak.captions.parser import CaptionParser, ParserConfig
from filterspeak.interpret.filter_pdfs import attribute_prior
from filterspeak.storage.cache import StageOutput, StageResult, run_stage
from filterspeak.storage.fingerprint import code_version
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS

STAGE = "captions"


@dataclass(frozen=True)
class CaptionParams:
    min_df: int = 5
    max_size: int | None = None
    weighting: Literal["counts", "presence"] = "counts"
    parser: ParserConfig = field(default_factory=ParserConfig)

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "parser"}
        return {**values, "parser": self.parser.to_dict()}


def caption_errors(captions: pd.DataFrame, image_ids: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable captions, errors rows) — empty text and unknown images are recorded, not parsed."""
    text = captions["text"].fillna("")
    empty = text.str.strip() == ""
    unknown = ~captions["image_id"].isin(image_ids)
    errors = pd.concat(
        [
            pd.DataFrame({"item": "caption " + captions.loc[empty, "caption_id"].astype(str), "reason": "empty caption"}),
            pd.DataFrame(
                {
                    "item": "caption " + captions.loc[unknown & ~empty, "caption_id"].astype(str),
                    "reason": "caption for an unknown image id",
                }
            ),
        ],
        ignore_index=True,
    )
    return captions[~empty & ~unknown], errors


def parse_captions(paths: StorePaths, dataset: StageResult, params: CaptionParams, progress: bool = True) -> StageResult:
    inputs = {
        "captions": dataset.table_hash("captions"),
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "params": params.to_dict(),
        "code": code_version(sys.modules[__name__], parser, lexicon, vocabulary),
    }

    def compute(output: StageOutput) -> None:
        captions = dataset.read("captions")
        images = dataset.read("images", ["image_id", "split"])
        usable, errors = caption_errors(captions, images["image_id"])
        parsed = CaptionParser(params.parser).parse_many(usable["text"].tolist(), progress=progress)
        records = [
            (image_id, phrase.text, phrase.modifier, phrase.noun)
            for image_id, phrases in zip(usable["image_id"].tolist(), parsed)
            for phrase in phrases
            if not phrase.negated
        ]
        image_phrases = pd.DataFrame(records, columns=["image_id", "phrase", "modifier", "noun"])
        vocab = vocabulary.build_vocabulary(image_phrases, min_df=params.min_df, max_size=params.max_size)
        image_attributes = vocabulary.image_attribute_counts(image_phrases, vocab, weighting=params.weighting)
        train_ids = images.loc[images["split"] == "train", "image_id"].to_numpy()
        vocab["prior"] = attribute_prior(image_attributes, train_ids, len(vocab))
        output.write("attributes", vocab)
        output.write("image_attributes", image_attributes)
        output.write("errors", errors, {"stage": STAGE})
        output.metrics.update(
            captions=len(captions),
            phrases=len(image_phrases),
            vocabulary_size=len(vocab),
            images_with_attributes=int(image_attributes["image_id"].nunique()),
            errors=len(errors),
        )

    return run_stage(paths, STAGE, inputs, compute)
