"""Attribute search without a store: the ranking of a hand-made score vector and how a query
becomes a vocabulary phrase (the real caption parser where canonicalisation matters)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from filterspeak.api.search import SearchError, caption_parse, check_split, rank_images, resolve_phrase, search, suggestions
from filterspeak.captions.parser import ParserConfig
from filterspeak.captions.results import Phrase
from filterspeak.errors import FilterSpeakError, OptionError

VOCABULARY = ["red crown", "red wing", "blue wing", "striped tail", "yellow belly", "black eye", "red eye"]


def no_parse(text: str) -> list[Phrase]:
    return []


@pytest.fixture(scope="module")
def parse():
    return caption_parse(ParserConfig())


def test_ranking_is_by_score_descending_ties_by_image_id():
    image_ids = np.array([40, 7, 12, 3, 25, 9])
    scores = np.array([0.2, 0.5, 0.9, 0.5, 0.1, 0.5])
    order = rank_images(scores, image_ids, top=6)
    assert image_ids[order].tolist() == [12, 3, 7, 9, 40, 25]
    assert scores[order].tolist() == [0.9, 0.5, 0.5, 0.5, 0.2, 0.1]


def test_top_truncates_and_a_top_beyond_the_images_returns_them_all():
    image_ids = np.array([40, 7, 12, 3, 25, 9])
    scores = np.array([0.2, 0.5, 0.9, 0.5, 0.1, 0.5])
    assert image_ids[rank_images(scores, image_ids, top=2)].tolist() == [12, 3]
    assert image_ids[rank_images(scores, image_ids, top=100)].tolist() == [12, 3, 7, 9, 40, 25]


def test_top_zero_is_an_option_error():
    with pytest.raises(OptionError, match="--top must be at least 1, got 0"):
        rank_images(np.array([0.1]), np.array([1]), top=0)


def test_an_exact_phrase_is_used_as_it_is_after_strip_and_lower():
    resolved = resolve_phrase("  Red   Wing ", VOCABULARY, no_parse)
    assert (resolved.phrase, resolved.attribute_id, resolved.query) == ("red wing", 1, "  Red   Wing ")


def test_red_wings_resolves_to_red_wing_with_the_real_parser(parse):
    assert resolve_phrase("red wings", VOCABULARY, parse).phrase == "red wing"
    assert resolve_phrase("wings that are red", VOCABULARY, parse).phrase == "red wing"
    assert resolve_phrase("a red-winged bird", VOCABULARY, parse).phrase == "red wing"


def test_the_first_parsed_phrase_in_the_vocabulary_is_used():
    parsed = [Phrase("green", "wing"), Phrase("blue", "wing", negated=True), Phrase("black", "eye"), Phrase("red", "eye")]
    assert resolve_phrase("whatever", VOCABULARY, lambda text: parsed).phrase == "black eye"


def test_a_negated_phrase_is_refused_with_the_phrase_to_search_for():
    with pytest.raises(SearchError, match="search for 'blue wing'"):
        resolve_phrase("without blue wings", VOCABULARY, lambda text: [Phrase("blue", "wing", negated=True)])


def test_a_misspelled_phrase_suggests_the_closest_vocabulary_phrases(parse):
    with pytest.raises(SearchError) as caught:
        resolve_phrase("red wnig", VOCABULARY, parse)
    message = str(caught.value)
    assert "\n" not in message and "unknown phrase 'red wnig'" in message
    assert suggestions("red wnig", VOCABULARY) == ["red wing", "red crown", "red eye"]
    assert "did you mean 'red wing', 'red crown', 'red eye'?" in message


def test_suggestions_close_spellings_first_then_shared_words_at_most_five():
    vocabulary = [f"red {noun}" for noun in ("crown", "belly", "tail", "back", "nape", "throat")] + ["blue wing", "red wing"]
    # difflib ratios to "red wnig": red wing .875, red crown .706, red tail and red nape .625 (cutoff .6),
    # blue wing .588 (out); then "red" phrases in vocabulary order
    assert suggestions("red wnig", vocabulary) == ["red wing", "red crown", "red tail", "red nape", "red belly"]
    assert suggestions("purple tentacle", vocabulary) == []


def test_an_empty_phrase_is_one_line():
    for query in ("", "   "):
        with pytest.raises(SearchError, match="^the search phrase is empty: give an attribute phrase such as 'red wing'$"):
            resolve_phrase(query, VOCABULARY, no_parse)


def test_a_phrase_of_only_stop_words_says_so(parse):
    with pytest.raises(SearchError, match="^'the a of' has only stop words and names no attribute: give one such as 'red crown'$"):
        resolve_phrase("the a of", VOCABULARY, parse)


def test_a_phrase_that_yields_no_attribute_says_so(parse):
    with pytest.raises(SearchError, match="^'quickly' names no attribute the caption parser can read"):
        resolve_phrase("quickly", VOCABULARY, parse)


def test_an_unknown_phrase_with_nothing_close_says_how_to_list_the_vocabulary(parse):
    with pytest.raises(SearchError, match="none of the 7 vocabulary phrases is close"):
        resolve_phrase("purple tentacle", VOCABULARY, parse)


def test_an_unknown_split_is_an_option_error():
    assert check_split("all") == "all"
    with pytest.raises(OptionError, match="^--split must be one of test, train, all, got 'val'$"):
        check_split("val")


def test_a_build_recorded_before_attribute_scores_asks_for_a_rebuild():
    old = SimpleNamespace(produced=SimpleNamespace(by_stage={"pdfs": object()}), backbone="smallcnn", layer="features.3")
    with pytest.raises(FilterSpeakError, match=r"build of smallcnn:features.3 predates attribute search .* run `filterspeak build` again"):
        search(old, "red wing", top=3, split="test", parse=no_parse)
