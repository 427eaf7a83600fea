"""One decision explained: contributions α_f → p(f|x,ĉ) → attribute scores → sentence.

Used both by the batch explanation stage and by `filterspeak explain` on new image files, so
the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterspeak.interpret.decomposition import LINEAR_GAP, filter_weights_for_decision
from filterspeak.interpret.sentences import CitedAttribute, decision_attribute_scores, render_sentence, select_attributes


@dataclass(frozen=True)
class AttributeVocabulary:
    phrases: list[str]
    nouns: list[str]


@dataclass(frozen=True)
class Explanation:
    predicted_class_id: int
    sentence: str
    cited: list[CitedAttribute]
    decomposition: str


def explain_decisions(
    contributions: np.ndarray,
    predicted: np.ndarray,
    pdf: np.ndarray,
    vocabulary: AttributeVocabulary,
    class_names: dict[int, str],
    top_k: int = 3,
    min_relative_score: float = 0.0,
    decomposition: str = LINEAR_GAP,
) -> list[Explanation]:
    """Explain decisions `predicted` (N,) from per-filter contributions α (N, F) toward them."""
    scores = decision_attribute_scores(filter_weights_for_decision(contributions), pdf)
    explanations = []
    for row, class_id in enumerate(np.asarray(predicted)):
        cited = select_attributes(scores[row], vocabulary.phrases, vocabulary.nouns, top_k, min_relative_score)
        sentence = render_sentence(class_names.get(int(class_id), f"class {class_id}"), cited)
        explanations.append(Explanation(int(class_id), sentence, cited, decomposition))
    return explanations
