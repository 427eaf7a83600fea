"""failure_attribute_recall: planted pairs, their error counts, and a shuffled vocabulary below it."""

import numpy as np
import pandas as pd

from filterspeak.evaluation.failure_recall import MIN_ERRORS, dominant_direction, failure_attribute_recall
from filterspeak.interpret.failures import ClassProfiles, distinguishing_attributes

PHRASES = [f"attribute {k}" for k in range(12)]
PLANTED = pd.DataFrame(
    {
        "twin_class_id": [2, 3, 4],
        "base_class_id": [0, 1, 0],
        "part": ["beak", "tail", "wing"],
        "base_phrase": ["attribute 0", "attribute 2", "attribute 4"],
        "twin_phrase": ["attribute 1", "attribute 3", "attribute 5"],
    }
)


def _analysis(seed: int = 0):
    """Profiles of 5 classes where each twin differs from its base only in its planted pair of attributes."""
    rng = np.random.default_rng(seed)
    means = np.full((5, len(PHRASES)), 0.1)
    for row in PLANTED.itertuples():
        base, twin = int(row.base_class_id), int(row.twin_class_id)
        a, b = PHRASES.index(row.base_phrase), PHRASES.index(row.twin_phrase)
        means[base, a], means[twin, b] = 0.3, 0.3
        means[twin] = np.where(np.arange(len(PHRASES)) == a, 0.1, means[twin])
    classes = np.repeat(np.arange(5), 40)
    scores = means[classes] + rng.normal(0, 0.02, (len(classes), len(PHRASES)))
    profiles = ClassProfiles.of(scores, classes, 5)

    def ranked(true, predicted, phrases):
        errors = means[[predicted]] + rng.normal(0, 0.02, (6, len(PHRASES)))
        return [a.phrase for a in distinguishing_attributes(profiles, true, predicted, errors, phrases, 3)]

    return ranked


def test_the_analysis_recalls_every_planted_difference_and_a_shuffled_vocabulary_does_not():
    counts = {(0, 2): 4, (2, 0): 3, (1, 3): 9, (0, 4): 2}  # pair 3 (0 ↔ 4) has too few errors
    result = failure_attribute_recall(PLANTED, counts, _analysis(), PHRASES)
    assert [p["evaluated"] for p in result.pairs] == [True, True, False]
    assert [p["errors"] for p in result.pairs] == [7, 9, 2]
    assert result.recall == 1.0
    assert result.shuffled_recall < 0.6  # 2 of 12 words in a top 3: about 0.32 by chance
    assert result.pairs[1]["confusion"] == [1, 3] and result.pairs[0]["confusion"] == [0, 2]


def test_pairs_below_the_error_floor_are_not_scored():
    result = failure_attribute_recall(PLANTED, {(0, 2): MIN_ERRORS - 1}, _analysis(), PHRASES)
    assert np.isnan(result.recall) and result.evaluated == 0


def test_a_ranking_that_misses_the_difference_scores_zero():
    result = failure_attribute_recall(PLANTED.iloc[:1], {(2, 0): 5}, lambda t, p, phrases: ["attribute 9", "attribute 8"], PHRASES)
    assert result.recall == 0.0 and result.pairs[0]["confusion"] == [2, 0]


def test_the_dominant_direction():
    assert dominant_direction({(0, 2): 3, (2, 0): 4}, 0, 2) == (2, 0)
    assert dominant_direction({(0, 2): 3, (2, 0): 3}, 0, 2) == (0, 2)
