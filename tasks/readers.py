"""Readers shared by stages and by the read-back view of a build: long tables back into the
dense matrices the math works on. Each takes anything with `read(table, columns)` (a stage's
`Inputs`, a `BuildView`)."""

from __future__ import annotations

import numpy as np

from filterspeak.interpret import filter_pdfs
from filterspeak.interpret.decisions import AttributeVocabulary


def response_matrix(source, table: str, column: str, image_ids: np.ndarray) -> np.ndarray:
    """(len(image_ids), F) matrix of one per-(image, filter) column, rows in the order of `image_ids`."""
    frame = source.read(table, ["image_id", "filter", column])
    wide = frame.pivot(index="image_id", columns="filter", values=column)
    return wide.reindex(image_ids).to_numpy(dtype=np.float64)


def vocabulary_of(source) -> AttributeVocabulary:
    attributes = source.read("attributes", ["attribute_id", "phrase", "noun"]).sort_values("attribute_id")
    return AttributeVocabulary(attributes["phrase"].tolist(), attributes["noun"].tolist())


def filter_attribute_pdf(source, num_filters: int, num_attributes: int) -> np.ndarray:
    """p(a|f) as a dense (F, A) matrix."""
    frame = source.read("filter_attributes", ["filter", "attribute_id", "probability"])
    return filter_pdfs.dense_matrix(frame, num_filters, num_attributes, "filter", "attribute_id", "probability")


def split_ids(source, split: str) -> np.ndarray:
    images = source.read("images", ["image_id", "split"])
    return np.sort(images.loc[images["split"] == split, "image_id"].to_numpy())
