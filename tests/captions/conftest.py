"""Fixtures shared by the caption tests.

NLTK_DATA needs no fixture here: tests/conftest.py points it at the shared offline copy at
import when the environment leaves it unset.
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
