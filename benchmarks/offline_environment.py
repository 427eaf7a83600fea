"""The environment the Prefect benchmarks run in: offline like the tests (no analytics, quiet
logs) and NLTK data from ../shared when the user has not set NLTK_DATA."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def configure() -> None:
    """Call before importing filterspeak's flows (Prefect reads its settings at import)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    if "NLTK_DATA" not in os.environ and (SHARED / "nltk_data").is_dir():
        os.environ["NLTK_DATA"] = str(SHARED / "nltk_data")
