"""Readers shared by stages and by the read-back view of a build: stored tables back into the
arrays the math works on. Each takes anything with `read(table, columns)`, `read_arrow` and
`batches` (a stage's `Inputs`, a `BuildView`).

Per-filter tables (`filter_responses`, `filter_contributions`) hold one row per image and a list
per filter column (storage/vectors.py); `vector_chunks` streams them so memory holds one chunk,
whatever the image count."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from filterspeak.interpret import filter_pdfs
from filterspeak.interpret.decisions import AttributeVocabulary
from filterspeak.storage.vectors import vector_matrix

CHUNK_IMAGES = 2048  # images per streamed chunk: 2048 × 2,048 filters × 8 bytes = 32 MiB per float64 column


def response_matrix(source, table: str, column: str, image_ids: np.ndarray) -> np.ndarray:
    """(len(image_ids), F) float64 matrix of one per-filter column, rows in the order of
    `image_ids` (NaN for an image the table lacks)."""
    stored = source.read_arrow(table, ["image_id", column])
    matrix = vector_matrix(stored.column(column), np.float64)
    positions = pd.Index(stored.column("image_id").to_numpy()).get_indexer(np.asarray(image_ids))
    rows = matrix[np.maximum(positions, 0)] if len(matrix) else np.zeros((len(positions), 0))
    if (positions < 0).any():
        rows[positions < 0] = np.nan
    return rows


def vector_chunks(
    source, table: str, columns: list[str], image_ids: np.ndarray | None = None, rows: int = CHUNK_IMAGES, dtype=np.float64
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(image ids, {column: (n, F) matrix}) in stored order (by image id), `rows` images at a
    time; with `image_ids` (sorted), only those images. The next chunk is read and decoded in a
    thread while the caller works on this one (Parquet decoding releases the GIL)."""
    for batch in read_ahead(source.batches(table, ["image_id", *columns], rows)):
        ids = batch.column(0).to_numpy()
        keep = None if image_ids is None else np.isin(ids, image_ids, assume_unique=True)
        if keep is not None and not keep.any():
            continue
        if keep is not None and keep.all():
            keep = None
        matrices = {}
        for column in columns:
            matrix = vector_matrix(batch.column(column), dtype)
            matrices[column] = matrix if keep is None else matrix[keep]
        yield (ids if keep is None else ids[keep]), matrices


def read_ahead(items: Iterator) -> Iterator:
    """`items`, each fetched in a worker thread while the previous one is being used."""
    done = object()
    with ThreadPoolExecutor(max_workers=1) as reader:
        upcoming = reader.submit(next, items, done)
        while (item := upcoming.result()) is not done:
            upcoming = reader.submit(next, items, done)
            yield item


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


def attribute_score_matrix(source, image_ids: np.ndarray, num_attributes: int) -> np.ndarray:
    """(len(image_ids), A) p(a|x) from `image_attribute_scores`, rows in the order of `image_ids`."""
    wanted = np.asarray(image_ids)
    frame = source.read("image_attribute_scores", ["image_id", "attribute_id", "score"])
    frame = frame[frame["image_id"].isin(wanted)]
    row = pd.Index(wanted).get_indexer(frame["image_id"].to_numpy())
    matrix = np.zeros((len(wanted), num_attributes))
    matrix[row, frame["attribute_id"].to_numpy()] = frame["score"].to_numpy()
    return matrix


def attribute_map_weights(source, pdf: np.ndarray, response_name: str) -> np.ndarray:
    """(A, F) p(f|a) ∝ p(a|f) p(f) from `pdf` (F, A), p(f) from the train images' responses: the
    weights of the heat maps M_a that `explain --heatmaps` and the report draw and the grounding
    metric scores."""
    from filterspeak.interpret.heatmaps import filter_given_attribute, filter_prior
    from filterspeak.interpret.responses import RESPONSES

    responses = response_matrix(source, "filter_responses", RESPONSES[response_name].column, split_ids(source, "train"))
    return filter_given_attribute(pdf, filter_prior(responses))
