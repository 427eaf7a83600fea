"""Retrieval by attribute: rank images by p(a|x) = Σ_f p(a|f) p(f|x), p(f|x) ∝ s_f(x).

Scored per attribute by average precision against true presence, then averaged (mAP), beside
two baselines: a class-prior oracle (the attribute's true frequency among the train images of
the image's predicted class) and random rankings. An attribute "varies within classes" when at
least half of its variance is within classes (Σ_c n_c f_c (1 − f_c) / N ≥ ½ p (1 − p)): there a
retrieval that only knows the class cannot win, and the filters have to see the attribute.

A supervised reference says how much of each attribute the layer encodes at all: a ridge
regression from the (standardised) responses to true presence, fitted on the train split. It
uses labels FilterSpeak never sees, so it is a ceiling for reading the layer linearly, not a
competitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from filterspeak.evaluation.ranking import average_precision, random_ranking_precision

WITHIN_CLASS_SHARE = 0.5


def class_frequencies(presence: np.ndarray, class_ids: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, A) fraction of each class's images where each attribute is present."""
    counts = np.zeros((num_classes, presence.shape[1]))
    np.add.at(counts, class_ids, presence)
    sizes = np.bincount(class_ids, minlength=num_classes)[:, None]
    return np.divide(counts, sizes, out=np.zeros_like(counts), where=sizes > 0)


def varies_within_classes(presence: np.ndarray, class_ids: np.ndarray, num_classes: int) -> np.ndarray:
    """(A,) whether at least half of each attribute's variance lies within classes."""
    frequency = class_frequencies(presence, class_ids, num_classes)
    sizes = np.bincount(class_ids, minlength=num_classes)[:, None]
    within = (sizes * frequency * (1 - frequency)).sum(axis=0) / max(len(class_ids), 1)
    overall = presence.mean(axis=0)
    total = overall * (1 - overall)
    return (total > 0) & (within >= WITHIN_CLASS_SHARE * total)


def linear_probe_scores(
    train_responses: np.ndarray, train_presence: np.ndarray, test_responses: np.ndarray, ridge: float = 1.0
) -> np.ndarray:
    """(N_test, A) ridge-regression scores of presence from standardised responses."""
    mean, scale = train_responses.mean(axis=0), train_responses.std(axis=0) + 1e-9
    design = lambda r: np.c_[(r - mean) / scale, np.ones(len(r))]
    x = design(train_responses)
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    weights = np.linalg.solve(x.T @ x + penalty, x.T @ train_presence.astype(np.float64))
    return design(test_responses) @ weights


@dataclass(frozen=True)
class RetrievalResult:
    map: float
    class_prior_map: float
    random_map: float
    varying_map: float  # on attributes that vary within classes
    varying_class_prior_map: float
    attributes: int
    varying_attributes: int
    per_attribute: dict[str, float] = field(default_factory=dict)
    probe_map: float = float("nan")  # the supervised linear-probe ceiling


def evaluate_retrieval(
    scores: np.ndarray,
    presence: np.ndarray,
    class_prior_scores: np.ndarray,
    varying: np.ndarray,
    phrases: list[str],
    probe_scores: np.ndarray | None = None,
) -> RetrievalResult:
    """All (N, A) matrices over the evaluated images; attributes with no positive (or no negative)
    among them are left out, as AP is undefined or trivial there."""
    presence = presence.astype(bool)
    positives = presence.sum(axis=0)
    kept = np.nonzero((positives > 0) & (positives < len(presence)))[0]
    ours = np.array([average_precision(scores[:, a], presence[:, a]) for a in kept])
    prior = np.array([average_precision(class_prior_scores[:, a], presence[:, a]) for a in kept])
    chance = np.array([random_ranking_precision(presence[:, a], seed=int(a)) for a in kept])
    mask = varying[kept]
    probe = np.array([average_precision(probe_scores[:, a], presence[:, a]) for a in kept]) if probe_scores is not None else np.array([])

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if len(values) else float("nan")

    return RetrievalResult(
        mean(ours),
        mean(prior),
        mean(chance),
        mean(ours[mask]),
        mean(prior[mask]),
        len(kept),
        int(mask.sum()),
        {phrases[a]: float(v) for a, v in zip(kept, ours)},
        mean(probe),
    )
