"""Decision-level attribute scores and the sentence that states them.

p(a|x,ĉ) = Σ_f p(a|f) p(f|x,ĉ); the sentence cites the top-k attributes, at most one per noun
("a red crown" and "a striped wing", never "a red crown" and "a blue crown"), and only
attributes whose score is at least `min_relative_score` of the strongest one's: a sentence is
not padded with weak evidence to reach k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CitedAttribute:
    attribute_id: int
    phrase: str
    score: float


def decision_attribute_scores(filter_weights: np.ndarray, pdf: np.ndarray) -> np.ndarray:
    """(N, A) p(a|x,ĉ) from p(f|x,ĉ) (N, F) and p(a|f) (F, A)."""
    return filter_weights @ pdf


def select_attributes(
    scores: np.ndarray, phrases: list[str], nouns: list[str], top_k: int = 3, min_relative_score: float = 0.0
) -> list[CitedAttribute]:
    """Highest-scoring attributes, at most one per noun, each at least `min_relative_score`
    times the top score."""
    chosen: list[CitedAttribute] = []
    used_nouns: set[str] = set()
    floor = min_relative_score * float(scores.max(initial=0.0))
    for attribute_id in np.argsort(-scores, kind="stable"):
        if len(chosen) == top_k or scores[attribute_id] <= 0 or scores[attribute_id] < floor:
            break
        if nouns[attribute_id] in used_nouns:
            continue
        used_nouns.add(nouns[attribute_id])
        chosen.append(CitedAttribute(int(attribute_id), phrases[attribute_id], float(scores[attribute_id])))
    return chosen


def with_article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def render_sentence(class_name: str, cited: list[CitedAttribute]) -> str:
    """'This is a Cardinal because it has a red crown, a black face and a red wing.'

    Underscores in class names (CUB's 'Scarlet_Tanager') read as spaces."""
    subject = f"This is {with_article(class_name.replace('_', ' '))}"
    if not cited:
        return f"{subject}; no learned attribute supports this decision."
    parts = [with_article(item.phrase) for item in cited]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{subject} because it has {listed}."
