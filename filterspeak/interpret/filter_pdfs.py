"""From co-occurrence to p(a|f), filter statistics and class-level attribute distributions.

p(a|f) = Σ_x p(a|x) p(x|f) arrives as `cooccurrence` (filterspeak/interpret/cooccurrence.py) and is
corrected for the attribute prior by a variant of filterspeak/interpret/prior_corrections.py.
Selectivity = 1 − H(p(·|f)) / log(V).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from filterspeak.interpret.prior_corrections import PRIOR_CORRECTIONS


def attribute_prior(image_attributes: pd.DataFrame, image_ids: np.ndarray, num_attributes: int) -> np.ndarray:
    """p(a) = mean over the given images of p(a|x) (images without attributes count as zero)."""
    rows = image_attributes[image_attributes["image_id"].isin(image_ids)]
    prior = np.bincount(rows["attribute_id"], weights=rows["probability"], minlength=num_attributes)
    return prior / max(len(image_ids), 1)


def dense_matrix(frame: pd.DataFrame, rows: int, columns: int, row: str, column: str, value: str) -> np.ndarray:
    matrix = np.zeros((rows, columns))
    matrix[frame[row].to_numpy(), frame[column].to_numpy()] = frame[value].to_numpy()
    return matrix


def filter_attribute_matrix(cooccurrence: np.ndarray, prior: np.ndarray, prior_correction: str = "lift") -> tuple[np.ndarray, np.ndarray]:
    """(p(a|f) (F, A) corrected by the named prior correction, lift (F, A)); rows of filters that never co-occur stay zero."""
    correction = PRIOR_CORRECTIONS[prior_correction]
    totals = cooccurrence.sum(axis=1, keepdims=True)
    raw = np.divide(cooccurrence, totals, out=np.zeros_like(cooccurrence), where=totals > 0)
    lift = np.divide(raw, prior[None, :], out=np.zeros_like(raw), where=prior[None, :] > 0)
    return correction.correct(raw, lift), lift


def selectivity(pdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(selectivity, entropy) per row of a (F, A) distribution matrix."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pdf > 0, -pdf * np.log(pdf), 0.0)
    entropy = terms.sum(axis=1)
    normaliser = np.log(pdf.shape[1]) if pdf.shape[1] > 1 else 1.0
    empty = pdf.sum(axis=1) == 0
    result = 1.0 - entropy / normaliser
    result[empty] = 0.0
    return result, entropy


def class_attribute_matrix(pdf: np.ndarray, head_weights: np.ndarray, mean_response: np.ndarray) -> np.ndarray:
    """p(a|c) (C, A) with p(f|c) ∝ max(w_cf, 0) · mean response of f."""
    filter_given_class = np.clip(head_weights, 0.0, None) * mean_response[None, :]
    totals = filter_given_class.sum(axis=1, keepdims=True)
    filter_given_class = np.divide(filter_given_class, totals, out=np.zeros_like(filter_given_class), where=totals > 0)
    return filter_given_class @ pdf


def add_class_contributions(sums: np.ndarray, contributions: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Σ over images decided as c of max(α_f, 0), one chunk of images at a time (image order);
    returns `sums` (C, F), grown when a prediction names a class beyond it."""
    classes = max(sums.shape[0], int(np.max(predicted, initial=-1)) + 1)
    if classes > sums.shape[0]:
        sums = np.vstack([sums, np.zeros((classes - sums.shape[0], sums.shape[1]))])
    np.add.at(sums, predicted, np.clip(contributions, 0.0, None))
    return sums


def class_attribute_matrix_from_sums(pdf: np.ndarray, class_sums: np.ndarray) -> np.ndarray:
    """p(a|c) for heads without class weights: p(f|c) ∝ Σ over images decided as c of max(α_f, 0)."""
    totals = class_sums.sum(axis=1, keepdims=True)
    filter_given_class = np.divide(class_sums, totals, out=np.zeros_like(class_sums), where=totals > 0)
    return filter_given_class @ pdf
