"""The one Parquet writer: explicit schema, atomic temp-file + rename."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_table(frame: pd.DataFrame | pa.Table, path: Path, schema: pa.Schema, name: str = "") -> int:
    """Write `frame` with `schema` (checked and cast) to `path` atomically; returns the row count.

    Readers (DuckDB views, a resumed run) never see a half-written file: the bytes go to a
    temporary sibling that is renamed over `path` only once complete.
    """
    if isinstance(frame, pd.DataFrame):
        missing = [column for column in schema.names if column not in frame.columns]
        if missing:
            raise ValueError(f"table {name or path.name!r} is missing columns {missing}")
        arrow = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    else:
        arrow = frame.select(schema.names).cast(schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(arrow, temporary, compression="zstd")
    os.replace(temporary, path)
    return arrow.num_rows


def read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    return read_arrow(path, columns).to_pandas()


def read_arrow(path: Path, columns: list[str] | None = None) -> pa.Table:
    """As Arrow: list columns (extraction shards) convert to NumPy without a pandas detour."""
    return pq.read_table(path, columns=columns)
