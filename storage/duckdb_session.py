"""An in-memory DuckDB session with given Parquet files exposed as views: how stages run SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb


@contextmanager
def parquet_views(tables: dict[str, Path | str], threads: int | None = None, filesystem: Any = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """`filesystem`: the fsspec filesystem of files given as URLs (s3://...), read without a DuckDB extension."""
    connection = duckdb.connect()
    try:
        if filesystem is not None:
            connection.register_filesystem(filesystem)
        if threads:
            connection.execute(f"SET threads = {int(threads)}")
        for name, path in tables.items():
            escaped = str(path).replace("'", "''")
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{escaped}')")
        yield connection
    finally:
        connection.close()
