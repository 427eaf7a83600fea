"""Failure analysis in attribute words: what the model confuses, and what tells the classes apart.

Everything is compared on one footing, what images show: p(a|x) (`image_attributes`), and a
class's profile p(a|c), the mean of p(a|x) over the class's train images.

A confusion (true class t taken for predicted class p) ranks the attributes by how well they
tell t from p in the network's own terms, and by whether its errors looked like p there:

    d(a)     = p(a|p) − p(a|t)
    r(a)     = how far the errors' mean p(a|x) moved from p(a|t) toward p(a|p), clipped to [0, 1]
    score(a) = |d(a)| · (1 + r(a)) / 2

so an attribute that separates the classes counts at least half, and fully when the errors show
the predicted class's value. Its direction: `for_predicted` when p shows it more (the errors show
it), `missing_from_true` when t does (the errors lack it). d is left in p(a|x)'s own units: scaled
by each attribute's spread instead, rare attributes with a tiny spread outranked the real
differences (on cub100, 16 of 84 top-3 attributes were CUB class-level differences against 29 of
84 unscaled; docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterspeak.interpret.sentences import with_article

FOR_PREDICTED = "for_predicted"
MISSING_FROM_TRUE = "missing_from_true"
DIRECTIONS = (FOR_PREDICTED, MISSING_FROM_TRUE)


@dataclass(frozen=True)
class ClassProfiles:
    """p(a|c) (C, A): the mean p(a|x) of each class's labelled images."""

    mean: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, class_ids: np.ndarray, num_classes: int) -> ClassProfiles:
        """`scores` (N, A) p(a|x) of images of classes `class_ids` (N,)."""
        sums = np.zeros((num_classes, scores.shape[1]))
        np.add.at(sums, class_ids, scores)
        sizes = np.bincount(class_ids, minlength=num_classes)[:, None]
        return cls(np.divide(sums, sizes, out=np.zeros_like(sums), where=sizes > 0))


@dataclass(frozen=True)
class RankedAttribute:
    attribute_id: int
    phrase: str
    score: float
    direction: str


def distinguishing_attributes(
    profiles: ClassProfiles, true_class: int, predicted_class: int, error_scores: np.ndarray, phrases: list[str], top: int
) -> list[RankedAttribute]:
    """The `top` attributes that best tell `true_class` from `predicted_class`, given the errors'
    p(a|x) (n, A) (module docstring); ties keep vocabulary order."""
    low, high = profiles.mean[true_class], profiles.mean[predicted_class]
    difference = high - low
    moved = error_scores.mean(axis=0) - low if len(error_scores) else np.zeros_like(difference)
    toward = np.clip(np.divide(moved, difference, out=np.zeros_like(difference), where=difference != 0), 0.0, 1.0)
    scores = np.abs(difference) * (1.0 + toward) / 2.0
    ranked = [a for a in np.argsort(-scores, kind="stable")[:top] if scores[a] > 0]
    return [
        RankedAttribute(int(a), phrases[a], float(scores[a]), FOR_PREDICTED if difference[a] > 0 else MISSING_FROM_TRUE) for a in ranked
    ]


def missing_attributes(
    profiles: ClassProfiles, true_class: int, image_scores: np.ndarray, phrases: list[str], top: int
) -> list[RankedAttribute]:
    """What the true class usually shows (more than classes do on average) that this image's
    p(a|x) (A,) lacks: (p(a|t) − p(a|x))⁺."""
    typical = profiles.mean[true_class] > profiles.mean.mean(axis=0)
    scores = np.where(typical, np.clip(profiles.mean[true_class] - image_scores, 0.0, None), 0.0)
    ranked = [a for a in np.argsort(-scores, kind="stable")[:top] if scores[a] > 0]
    return [RankedAttribute(int(a), phrases[a], float(scores[a]), MISSING_FROM_TRUE) for a in ranked]


def _listed(phrases: list[str]) -> str:
    items = [with_article(p) for p in phrases]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def confusion_sentence(
    true_name: str, predicted_name: str, count: int, rate: float, attributes: list[RankedAttribute], cite: int = 3
) -> str:
    """'Sooty Flycatcher is taken for Crimson Tanager 12 times (8%): the errors show a red crown
    and lack an orange beak.' from the `cite` best-ranked attributes."""
    true_name, predicted_name = true_name.replace("_", " "), predicted_name.replace("_", " ")
    times = "once" if count == 1 else f"{count} times"
    head = f"{true_name} is taken for {predicted_name} {times} ({rate:.0%})"
    cited = attributes[:cite]
    shown = [a.phrase for a in cited if a.direction == FOR_PREDICTED]
    lacked = [a.phrase for a in cited if a.direction == MISSING_FROM_TRUE]
    clauses = ([f"show {_listed(shown)}"] if shown else []) + ([f"lack {_listed(lacked)}"] if lacked else [])
    if not clauses:
        return f"{head}: no learned attribute tells the two apart."
    return f"{head}: the errors {' and '.join(clauses)}."
