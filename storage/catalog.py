"""The SQL catalog: a small .duckdb file of views over the current Parquet outputs.

Parquet stays the source of truth. `catalog.json` records, per table and partition
(backbone/layer), which stage output is current; `rebuild_catalog` turns that into views.
Older outputs stay on disk under `stages/` and remain readable with `read_parquet`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

import duckdb
import pyarrow as pa

from filterspeak.sql import load_sql
from filterspeak.storage.cache import StageResult
from filterspeak.storage.locks import running_build
from filterspeak.storage.json_files import write_json
from filterspeak.storage.paths import StoreError, StorePaths
from filterspeak.storage.schemas import SCHEMAS, partition_columns

# What `query` runs: one statement that only reads (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW and
# SUMMARIZE parse as SELECT). Judged by DuckDB's own parser, so "SELECT 1; DROP ..." or
# "COPY (SELECT ...) TO 'file'" cannot slip through behind a harmless first word.
_READ_ONLY_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def load_pointers(paths: StorePaths) -> dict[str, dict[str, dict]]:
    if not paths.pointers.exists():
        return {}
    return json.loads(paths.pointers.read_text())


def publish(paths: StorePaths, results: Iterable[StageResult]) -> None:
    """Make these stage outputs the current ones for their tables and partitions."""
    pointers = load_pointers(paths)
    for result in results:
        for output in result.manifest.tables:
            key = "/".join(f"{k}={v}" for k, v in output.partition.items())
            pointers.setdefault(output.table, {})[key] = {
                "file": str(result.directory / output.path),
                "stage": result.stage,
                "fingerprint": result.manifest.fingerprint,
            }
    write_json(paths.pointers, pointers)


def _empty_view(table: str) -> str:
    columns = [f"CAST(NULL AS {_duckdb_type(field.type)}) AS {field.name}" for field in SCHEMAS[table]]
    columns += [f"CAST(NULL AS VARCHAR) AS {name}" for name in partition_columns(table)]
    return f"CREATE OR REPLACE VIEW {table} AS SELECT {', '.join(columns)} WHERE false;"


def _duckdb_type(arrow_type: pa.DataType) -> str:
    mapping = {pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.float64(): "DOUBLE", pa.float32(): "FLOAT",
               pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN"}
    return mapping.get(arrow_type, "TIMESTAMPTZ")


def _list_literal(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def rebuild_catalog(paths: StorePaths) -> Path:
    """Write catalog.duckdb afresh (temp file + rename) from catalog.json and the runs folder."""
    pointers = load_pointers(paths)
    temporary = paths.catalog.with_name(f".{paths.catalog.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    connection = duckdb.connect(str(temporary))
    try:
        for table in SCHEMAS:
            if table == "runs":
                continue
            files = sorted({entry["file"] for entry in pointers.get(table, {}).values()})
            if not files:
                connection.execute(_empty_view(table))
                continue
            hive_types = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in partition_columns(table)) + "}"
            statement = load_sql("catalog_view").format(view=table, files=_list_literal(files), hive_types=hive_types)
            if not partition_columns(table):
                statement = statement.replace("hive_partitioning = true", "hive_partitioning = false")
                statement = statement.replace(f", hive_types = {hive_types}", "")
            connection.execute(statement)
        connection.execute(load_sql("attribute_filter_counts"))
        run_files = sorted(str(p) for p in paths.runs.glob("*.parquet"))
        if run_files:
            connection.execute(load_sql("runs_view").format(files=_list_literal(run_files)))
        else:
            connection.execute(_empty_view("runs"))
    finally:
        connection.close()
    os.replace(temporary, paths.catalog)
    return paths.catalog


def _statement_types(statement: str) -> list[duckdb.StatementType]:
    connection = duckdb.connect()
    try:
        return [parsed.type for parsed in connection.extract_statements(statement)]
    finally:
        connection.close()


def is_read_only_statement(statement: str) -> bool:
    """True for exactly one statement that only reads (SELECT/WITH/FROM/DESCRIBE/SHOW/SUMMARIZE/EXPLAIN)."""
    try:
        _check_read_only(statement)
    except StoreError:
        return False
    return True


def _check_read_only(statement: str) -> None:
    """Raise the user-facing refusal (or the parser's error) unless `statement` only reads."""
    try:
        types = _statement_types(statement)
    except duckdb.Error as error:
        raise StoreError(f"SQL error: {error}") from None
    refused = [t.name for t in types if t not in _READ_ONLY_TYPES]
    if refused or len(types) != 1:
        got = f"got {', '.join(refused)}" if refused else f"got {len(types)} statements"
        raise StoreError(
            f"only read-only queries are allowed, one statement at a time (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN); {got}"
        )


def _open_failure(paths: StorePaths, error: duckdb.Error) -> str:
    """One line saying why the catalog cannot be opened for reading."""
    message = str(error).splitlines()[0]
    holder = _LOCK_HOLDER.search(message)
    if holder:
        return (
            f"the catalog {paths.catalog} is locked by another process (PID {holder.group(2)}, {holder.group(1)}) that opened it "
            "for writing; close that connection, or open the catalog read-only (duckdb -readonly, read_only=True)"
        )
    return f"cannot open the catalog {paths.catalog}: {message}"


def query(paths: StorePaths, statement: str, params: dict | None = None) -> pa.Table:
    """Run a read-only SQL statement (with optional named $parameters) against the store's catalog.

    Works while a build runs: the build writes a new catalog beside the old one and renames it
    into place, so a query sees the last finished build's tables, never a half-written catalog.
    Works on a read-only store: the catalog is opened read-only and nothing is written."""
    if not paths.catalog.exists():
        holder = running_build(paths)
        if holder:
            raise StoreError(f"no catalog at {paths.catalog} yet: the first build on this store is still running ({holder}); "
                             "try again when it ends")
        raise StoreError(f"no catalog at {paths.catalog}: run `filterspeak build --store {paths.root}` first")
    _check_read_only(statement)
    try:
        connection = duckdb.connect(str(paths.catalog), read_only=True)
    except duckdb.Error as error:
        raise StoreError(_open_failure(paths, error)) from None
    try:
        return connection.sql(statement, params=params).to_arrow_table()
    except duckdb.Error as error:
        raise StoreError(f"SQL error: {error}") from None
    finally:
        connection.close()
