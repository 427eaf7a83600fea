"""The failure analysis's math on hand-made p(a|x): known profiles, known errors, known ranking."""

import numpy as np
import pytest

from filterspeak.interpret.failures import (
    FOR_PREDICTED,
    MISSING_FROM_TRUE,
    ClassProfiles,
    RankedAttribute,
    confusion_sentence,
    distinguishing_attributes,
    missing_attributes,
)

PHRASES = ["orange beak", "yellow beak", "red crown", "striped wing"]
# class 0 shows an orange beak, class 1 a yellow beak; both a red crown and as many striped wings
PROFILES = ClassProfiles(np.array([[0.5, 0.1, 0.3, 0.2], [0.1, 0.5, 0.3, 0.2]]))


def test_profiles_are_class_means():
    scores = np.array([[0.5, 0.1, 0.3, 0.1], [0.5, 0.1, 0.3, 0.3], [0.1, 0.5, 0.3, 0.1], [0.1, 0.5, 0.3, 0.3]])
    np.testing.assert_allclose(ClassProfiles.of(scores, np.array([0, 0, 1, 1]), 3).mean, [*PROFILES.mean, [0, 0, 0, 0]])


def test_the_planted_difference_ranks_first_and_its_score_follows_the_formula():
    # the errors (true 0 taken for 1) look like class 1 on the yellow beak, halfway on the orange one
    errors = np.array([[0.3, 0.5, 0.3, 0.2], [0.3, 0.5, 0.3, 0.2]])
    ranked = distinguishing_attributes(PROFILES, 0, 1, errors, PHRASES, top=5)
    assert [a.phrase for a in ranked] == ["yellow beak", "orange beak"]  # the crown and wing do not differ: left out
    assert ranked[0] == RankedAttribute(1, "yellow beak", pytest.approx(0.4 * (1 + 1.0) / 2), FOR_PREDICTED)
    assert ranked[1] == RankedAttribute(0, "orange beak", pytest.approx(0.4 * (1 + 0.5) / 2), MISSING_FROM_TRUE)


def test_errors_that_look_like_the_true_class_still_count_half():
    ranked = distinguishing_attributes(PROFILES, 0, 1, np.array([[0.5, 0.1, 0.3, 0.2]]), PHRASES, top=2)
    assert [a.score for a in ranked] == pytest.approx([0.2, 0.2])
    assert [a.direction for a in ranked] == [MISSING_FROM_TRUE, FOR_PREDICTED]  # ties keep vocabulary order


def test_missing_attributes_are_what_the_true_class_shows_and_the_image_lacks():
    lacked = missing_attributes(PROFILES, 0, np.array([0.1, 0.5, 0.3, 0.0]), PHRASES, top=3)
    # the orange beak (0.4 below the class); the red crown and the wing are not typical of class 0
    assert lacked == [RankedAttribute(0, "orange beak", pytest.approx(0.4), MISSING_FROM_TRUE)]


def test_confusion_sentences():
    show = RankedAttribute(2, "red crown", 2.0, FOR_PREDICTED)
    lack = RankedAttribute(0, "orange beak", 1.0, MISSING_FROM_TRUE)
    assert (
        confusion_sentence("Sooty_Flycatcher", "Crimson Tanager", 12, 0.08, [show, lack])
        == "Sooty Flycatcher is taken for Crimson Tanager 12 times (8%): the errors show a red crown and lack an orange beak."
    )
    assert confusion_sentence("A", "B", 1, 0.5, [lack]) == "A is taken for B once (50%): the errors lack an orange beak."
    assert confusion_sentence("A", "B", 2, 0.25, []) == "A is taken for B 2 times (25%): no learned attribute tells the two apart."
    assert confusion_sentence("A", "B", 3, 0.1, [show, lack], cite=1).endswith("the errors show a red crown.")
