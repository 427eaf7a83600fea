"""SQL text lives in this folder as .sql files; `load_sql` is how Python gets it."""

from __future__ import annotations

from functools import cache
from importlib import resources


def sql_path(name: str):
    """Where `sql/<name>.sql` is (what code versions hash)."""
    return resources.files(__name__).joinpath(f"{name}.sql")


@cache
def load_sql(name: str) -> str:
    """Text of `sql/<name>.sql`."""
    return sql_path(name).read_text()
