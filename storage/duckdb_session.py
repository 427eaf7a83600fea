"""An in-memory DuckDB session with given Parquet files exposed as views: how stages run SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


@contextmanager
def parquet_views(tables: dict[str, Path], threads: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    try:
        if threads:
            connection.execute(f"SET threads = {int(threads)}")
        for name, path in tables.items():
            escaped = str(path).replace("'", "''")
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{escaped}')")
        yield connection
    finally:
        connection.close()
