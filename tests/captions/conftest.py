"""Fixtures shared by the caption tests.

NLTK data needs no fixture: it ships in the package (filterspeak/nltk_data/); NLTK_DATA, when
set, is searched first.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def parser():
    from filterspeak.captions.parser import CaptionParser

    return CaptionParser()


@pytest.fixture(scope="module")
def marking_parser():
    from filterspeak.captions.parser import CaptionParser, ParserConfig

    return CaptionParser(ParserConfig(negation="mark"))
