"""docs/api.md is generated from the public API's docstrings, and is current."""

from __future__ import annotations

import inspect
from pathlib import Path

import filterspeak as fs
from filterspeak.api import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_api_md_is_the_generated_reference():
    assert DOC.read_text() == reference.render(), "docs/api.md is out of date: run `python -m filterspeak.api.reference docs/api.md`"


def test_every_public_method_is_documented_and_listed():
    text = DOC.read_text()
    for name in reference.CLASSES:
        for member, value in reference._members(getattr(fs, name)):
            function = value.fget if isinstance(value, property) else value
            assert inspect.getdoc(function) or isinstance(value, property), f"{name}.{member} has no docstring"
            assert f"### {name}.{member}" in text
    for name in fs.__all__:
        assert f"fs.{name}" in text
