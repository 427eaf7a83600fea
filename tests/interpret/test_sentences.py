import numpy as np

from filterspeak.interpret.decisions import AttributeVocabulary, explain_decisions
from filterspeak.interpret.sentences import CitedAttribute, render_sentence, select_attributes

PHRASES = ["red crown", "blue crown", "striped wing", "orange beak"]
NOUNS = ["crown", "crown", "wing", "beak"]


def test_at_most_one_attribute_per_noun():
    cited = select_attributes(np.array([0.4, 0.3, 0.2, 0.1]), PHRASES, NOUNS, top_k=3)
    assert [c.phrase for c in cited] == ["red crown", "striped wing", "orange beak"]


def test_sentence_grammar():
    cited = [CitedAttribute(0, "red crown", 0.5), CitedAttribute(3, "orange beak", 0.2), CitedAttribute(2, "striped wing", 0.1)]
    assert render_sentence("Cardinal", cited) == "This is a Cardinal because it has a red crown, an orange beak and a striped wing."
    assert render_sentence("Indigo Bunting", cited[:1]) == "This is an Indigo Bunting because it has a red crown."


def test_explanation_follows_the_filters_that_drove_the_decision():
    # filter 0 means "red crown", filter 1 "striped wing"; class 0 relies on filter 0, class 1 on filter 1
    pdf = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0]])
    head = np.array([[2.0, -1.0], [-1.0, 2.0]])
    gap = np.array([[1.0, 1.0], [1.0, 1.0]])
    predicted = np.array([0, 1])
    contributions = head[predicted] * gap  # α_f = w_ĉf · GAP_f
    explained = explain_decisions(contributions, predicted, pdf, AttributeVocabulary(PHRASES, NOUNS), {0: "Cardinal", 1: "Zebra Finch"})
    assert explained[0].sentence == "This is a Cardinal because it has a red crown."
    assert explained[1].sentence == "This is a Zebra Finch because it has a striped wing."


def test_weak_attributes_are_not_cited_to_fill_the_sentence():
    scores = np.array([0.5, 0.0, 0.2, 0.1])
    cited = select_attributes(scores, PHRASES, NOUNS, top_k=3, min_relative_score=0.3)
    assert [c.phrase for c in cited] == ["red crown", "striped wing"]  # 0.1 < 0.3 * 0.5


def test_class_names_with_underscores_read_as_words():
    assert (
        render_sentence("Scarlet_Tanager", [CitedAttribute(0, "red crown", 1.0)]) == "This is a Scarlet Tanager because it has a red crown."
    )
