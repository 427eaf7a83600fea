"""The environment the Prefect benchmarks run in: offline like the tests (no analytics, quiet
logs). The NLTK data ships in the package."""

from __future__ import annotations

import os


def configure() -> None:
    """Call before importing filterspeak's flows (Prefect reads its settings at import)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
