"""The one Parquet writer: explicit schema, atomic temp-file + rename, whole or piece by piece."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"


def _conform(frame: pd.DataFrame | pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    """`frame` as an Arrow table with exactly `schema` (columns checked, selected and cast)."""
    if isinstance(frame, pd.DataFrame):
        missing = [column for column in schema.names if column not in frame.columns]
        if missing:
            raise ValueError(f"table {name!r} is missing columns {missing}")
        return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    return frame.select(schema.names).cast(schema)


class TableWriter:
    """Writes one table as a sequence of row groups (one per `write`), so a table larger than
    memory streams to disk; the file appears at `path` only on `close` (temp + rename), and an
    exception inside `with` leaves nothing behind."""

    def __init__(self, path: Path, schema: pa.Schema, name: str = "") -> None:
        self.path, self.schema, self.name, self.rows = path, schema, name or path.name, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # No dictionary for per-filter vectors (storage/vectors.py): their floats rarely repeat, and a
        # dictionary per row group made them a third larger than plain values.
        dictionary = [field.name for field in schema if not pa.types.is_list(field.type)]
        self._writer = pq.ParquetWriter(self._temporary, schema, compression=COMPRESSION, use_dictionary=dictionary)

    def write(self, frame: pd.DataFrame | pa.Table) -> None:
        arrow = _conform(frame, self.schema, self.name)
        if arrow.num_rows or not self.rows:
            self._writer.write_table(arrow)
        self.rows += arrow.num_rows

    def close(self) -> int:
        """Publish the file; returns its row count."""
        self._writer.close()
        os.replace(self._temporary, self.path)
        return self.rows

    def abort(self) -> None:
        self._writer.close()
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind, *_exc) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_table(frame: pd.DataFrame | pa.Table, path: Path, schema: pa.Schema, name: str = "") -> int:
    """Write `frame` with `schema` (checked and cast) to `path` atomically; returns the row count.

    Readers (DuckDB views, a resumed run) never see a half-written file: the bytes go to a
    temporary sibling that is renamed over `path` only once complete.
    """
    with TableWriter(path, schema, name) as writer:
        writer.write(frame)
    return writer.rows


def read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    return read_arrow(path, columns).to_pandas()


def read_arrow(path: Path, columns: list[str] | None = None) -> pa.Table:
    """As Arrow: list columns (per-image filter vectors) convert to NumPy without a pandas detour."""
    return pq.read_table(path, columns=columns)


def read_batches(path: Path, columns: list[str] | None = None, rows: int = 4096) -> Iterator[pa.RecordBatch]:
    """The table in row order, `rows` at a time: what a stage streams when the whole table
    would not fit in memory."""
    yield from pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns)
