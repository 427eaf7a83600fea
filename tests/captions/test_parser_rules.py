"""Parser rules added for issue 3 (each a general rule, documented in the parser docstring)."""

from __future__ import annotations

import pytest

RULES = [
    # '<modifier>-<part>ed' adjectives describe the part, not the noun after them
    ("a long-tailed bird with a grey back", ["long tail", "grey back"]),
    ("a yellow-billed cuckoo", ["yellow beak"]),
    ("a red-winged blackbird with a pointed bill", ["red wing", "pointed beak"]),
    ("a white-throated sparrow", ["white throat"]),
    ("two dark haired girls", ["dark hair"]),
    ("a light brown haired woman", ["light brown hair"]),
    ("A small black and brown long haired dog", ["long hair", "small dog", "black dog", "brown dog"]),
    ("the long-haired dog is brown", ["long hair", "brown dog"]),
    ("this bird is red-bellied", ["red belly"]),
    ("a black hooded sweatshirt", ["black sweatshirt", "hooded sweatshirt"]),  # lexicon word
    ("a brown spotted wing", ["brown wing", "spotted wing"]),  # lexicon word, not 'spot'
    # '<noun> colored': the noun names the colour
    ("a caramel colored dog", ["caramel dog"]),
    ("a multi colored umbrella", ["multicolored umbrella"]),
    ("a grey colored dog", ["grey dog"]),
    # a colour located on body parts
    ("this bird is mostly white with black on its wings and tail", ["black wing", "black tail"]),
    ("the bird is black on its back", ["black back"]),
    ("a man in red on a bike", []),  # not a body part
    # subordinate clauses start a new subject
    ("the crown and nape are black while the throat is white", ["black crown", "black nape", "white throat"]),
    ("a man in a red shirt while the dog is happy", ["red shirt", "happy dog"]),
    # predicate with an article, meta nouns
    ("its belly is a bright white", ["white belly"]),
    ("the rest of the body is black", ["black body"]),
    # tagger repairs: adjectives read as nouns and nouns read as adjectives
    ("a snowy hill", ["snowy hill"]),
    ("a snow valley", []),
    ("a long dark beak", ["long beak", "dark beak"]),
    ("a young girl in a Spider-Man outfit", ["young girl"]),
    ("a white and multi-print dress", ["white dress", "multi-print dress"]),
    # hair colours
    ("wet blonde dog", ["wet dog", "blonde dog"]),
    ("a blond boy", ["blonde boy"]),
]


@pytest.mark.parametrize("text, expected", RULES, ids=[r[0][:40] for r in RULES])
def test_rule(parser, text, expected):
    assert [p.text for p in parser.parse(text)] == expected


def test_negated_located_colour(parser, marking_parser):
    text = "a bird with no black on its wings"
    assert parser.parse(text) == []
    assert [(p.text, p.negated) for p in marking_parser.parse(text)] == [("black wing", True)]
