"""Stage `captions`: caption text → attribute vocabulary and p(a|x) per image.

Reads only the captions and the images' ids and splits: a new backbone never re-parses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd

from filterspeak.captions import vocabulary
from filterspeak.captions.cleaning import clean_captions
from filterspeak.captions.parser import CaptionParser, ParserConfig
from filterspeak.interpret.filter_pdfs import attribute_prior
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.schemas import ERRORS, F64, I64, STR, table
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {
    "attributes": table(
        ("attribute_id", I64),
        ("phrase", STR),
        ("modifier", STR),
        ("noun", STR),
        ("document_frequency", I64),
        ("prior", F64),  # p(a): mean p(a|x) over the train images
    ),
    "image_attributes": table(("image_id", I64), ("attribute_id", I64), ("count", I64), ("probability", F64)),
    "errors": ERRORS,
}


@dataclass(frozen=True)
class CaptionParams:
    min_df: int
    weighting: str  # one of vocabulary.WEIGHTINGS
    max_size: int | None = None
    parser: ParserConfig = field(default_factory=ParserConfig)

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "parser"}
        return {**values, "parser": self.parser.to_dict()}


def params_from(options, inputs: Inputs | None = None) -> CaptionParams:
    return CaptionParams(min_df=options.min_df, weighting=options.attribute_weighting)


def caption_errors(captions: pd.DataFrame, image_ids: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable captions with cleaned text, error rows): captions for unknown images and text that
    cannot be used (empty, HTML only, too long, not English) are recorded, not parsed."""
    unknown = ~captions["image_id"].isin(image_ids)
    orphans = [
        {"item": f"caption {caption_id}", "reason": "caption for unknown image"} for caption_id in captions.loc[unknown, "caption_id"]
    ]
    usable, problems = clean_captions(captions[~unknown])
    return usable, pd.DataFrame(problems + orphans, columns=["item", "reason"])


def compute(inputs: Inputs, params: CaptionParams, context: Context, output: StageOutput) -> None:
    captions = inputs.read("captions")
    images = inputs.read("images", ["image_id", "split"])
    usable, errors = caption_errors(captions, images["image_id"])
    failures: list = []  # (index in usable, reason): a caption the parser could not read is counted, not lost silently
    parsed = CaptionParser(params.parser).parse_many(usable["text"].tolist(), progress=context.progress, workers=2, failures=failures)
    if failures:
        caption_ids = usable["caption_id"].to_numpy()
        unparsed = pd.DataFrame([{"item": f"caption {caption_ids[index]}", "reason": reason} for index, reason in failures])
        errors = pd.concat([errors, unparsed], ignore_index=True)
    image_phrases = vocabulary.phrase_rows(usable["image_id"].tolist(), parsed)
    vocab = vocabulary.build_vocabulary(image_phrases, min_df=params.min_df, max_size=params.max_size)
    image_attributes = vocabulary.image_attribute_counts(image_phrases, vocab, weighting=params.weighting)
    train_ids = images.loc[images["split"] == "train", "image_id"].to_numpy()
    vocab["prior"] = attribute_prior(image_attributes, train_ids, len(vocab))
    output.write("attributes", vocab)
    output.write("image_attributes", image_attributes)
    output.write("errors", errors)
    output.metrics.update(
        captions=len(captions),
        phrases=len(image_phrases),
        vocabulary_size=len(vocab),
        images_with_attributes=int(image_attributes["image_id"].nunique()),
        errors=len(errors),
    )


STAGE = StageSpec(
    name="captions",
    module=__name__,
    reads={"captions": ALL_COLUMNS, "images": ("image_id", "split")},
    writes=TABLES,
    params=params_from,
    compute=compute,
)
