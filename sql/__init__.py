"""SQL text lives in this folder as .sql files; `load_sql` is how Python gets it."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_sql(name: str) -> str:
    """Text of `sql/<name>.sql`."""
    return resources.files(__name__).joinpath(f"{name}.sql").read_text()
