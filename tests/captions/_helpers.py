"""Paths and plain helpers shared by the caption tests (imported as ``from _helpers import ...``).

pytest's default ``prepend`` import mode puts this folder on ``sys.path`` when it imports a
test module here, so this sibling module imports without an ``__init__.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FLICKR = SHARED / "data" / "flickr8k" / "Flickr8k.token.txt"


def texts(phrases):
    return [p.text for p in phrases]


def load_gold(name: str) -> list[dict]:
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
