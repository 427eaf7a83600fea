"""Stage `captions`: caption text → attribute vocabulary and p(a|x) per image.

Keyed only by the captions and images tables and the parser settings: a new backbone never
re-parses.
"""

from __future__ import annotations

import sys

from dataclasses import dataclass, field, fields
from typing import Literal

import pandas as pd

from filterspeak.captions import cleaning, fast_nltk, lexicon, parser, vocabulary
from filterspeak.captions.cleaning import clean_captions
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
    weighting: Literal["counts", "presence"] = "presence"  # chosen in docs/evaluation.md
    parser: ParserConfig = field(default_factory=ParserConfig)

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "parser"}
        return {**values, "parser": self.parser.to_dict()}


def caption_errors(captions: pd.DataFrame, image_ids: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable captions with cleaned text, error rows): captions for unknown images and text that
    cannot be used (empty, HTML only, too long, not English) are recorded, not parsed."""
    unknown = ~captions["image_id"].isin(image_ids)
    orphans = [{"item": f"caption {caption_id}", "reason": "caption for unknown image"} for caption_id in captions.loc[unknown, "caption_id"]]
    usable, problems = clean_captions(captions[~unknown])
    return usable, pd.DataFrame(problems + orphans, columns=["item", "reason"])


def parse_captions(paths: StorePaths, dataset: StageResult, params: CaptionParams, progress: bool = True) -> StageResult:
    inputs = {
        "captions": dataset.table_hash("captions"),
        "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
        "params": params.to_dict(),
        "code": code_version(sys.modules[__name__], parser, lexicon, vocabulary, cleaning, fast_nltk),
    }

    def compute(output: StageOutput) -> None:
        captions = dataset.read("captions")
        images = dataset.read("images", ["image_id", "split"])
        usable, errors = caption_errors(captions, images["image_id"])
        parsed = CaptionParser(params.parser).parse_many(usable["text"].tolist(), progress=progress, workers=2)
        image_phrases = vocabulary.phrase_rows(usable["image_id"].tolist(), parsed)
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
