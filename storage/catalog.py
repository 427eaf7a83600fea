"""The SQL catalog: a small .duckdb file of views over the current Parquet outputs.

Parquet stays the source of truth. `catalog.json` records, per table and partition
(backbone/layer), which stage output is current; `rebuild_catalog` turns that into views.
Older outputs stay on disk under `stages/` and remain readable with `read_parquet`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from filterspeak.sql import load_sql
from filterspeak.storage.cache import StageResult
from filterspeak.storage.json_files import write_json
from filterspeak.storage.locks import running_build
from filterspeak.storage.paths import StoreError, StorePaths
from filterspeak.storage.schemas import RUNS, Table

# What `query` runs: one statement that only reads (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW and
# SUMMARIZE parse as SELECT). Judged by DuckDB's own parser, so "SELECT 1; DROP ..." or
# "COPY (SELECT ...) TO 'file'" cannot slip through behind a harmless first word.
_READ_ONLY_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def load_pointers(paths: StorePaths) -> dict[str, dict[str, dict]]:
    """Per table and partition, the current stage output's file (relative to the store root; stores
    written before that hold absolute paths, which `_located` keeps)."""
    if not paths.pull(paths.pointers).exists():
        return {}
    return json.loads(paths.pointers.read_text())


def publish(paths: StorePaths, results: Iterable[StageResult]) -> None:
    """Make these stage outputs the current ones for their tables and partitions."""
    pointers = load_pointers(paths)
    for result in results:
        for output in result.manifest.tables:
            key = "/".join(f"{k}={v}" for k, v in output.partition.items())
            pointers.setdefault(output.table, {})[key] = {
                "file": paths.relative(result.directory / output.path),
                "stage": result.stage,
                "fingerprint": result.manifest.fingerprint,
            }
    write_json(paths.pointers, pointers)
    paths.push(paths.pointers)


def _located(paths: StorePaths, file: str) -> str:
    """Where a query reads a file the pointers name: in the bucket for a store on object storage."""
    if paths.remote is None:
        return str(paths.root / file)
    return paths.remote.uri(paths.relative(paths.root / file))


def _run_files(paths: StorePaths) -> list[str]:
    if paths.remote is None:
        return sorted(str(p) for p in paths.runs.glob("*.parquet"))
    return [paths.remote.uri(f"runs/{name}") for name in paths.remote.files("runs") if name.endswith(".parquet")]


def _empty_view(name: str, table: Table) -> str:
    columns = [f"CAST(NULL AS {_duckdb_type(field.type)}) AS {field.name}" for field in table.schema]
    columns += [f"CAST(NULL AS VARCHAR) AS {column}" for column in table.partition]
    return f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(columns)} WHERE false;"


def _duckdb_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_list(arrow_type):
        return f"{_duckdb_type(arrow_type.value_type)}[]"
    mapping = {
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.float64(): "DOUBLE",
        pa.float32(): "FLOAT",
        pa.string(): "VARCHAR",
        pa.bool_(): "BOOLEAN",
    }
    return mapping.get(arrow_type, "TIMESTAMPTZ")


def _located_columns(declared: Table) -> str:
    """The view's REPLACE clause for a table's location columns: a relative name is inside the stage
    output whose file holds the row (StageResult.located), so SQL shows where the file really is."""
    if not declared.location:
        return ""
    stage_dir = r"regexp_extract(filename, '^(.*/stages/[^/]+/[^/]+)/', 1)"
    replaced = [
        f"CASE WHEN {c} IS NULL OR {c} LIKE '/%' OR {c} LIKE '%://%' THEN {c} ELSE {stage_dir} || '/' || {c} END AS {c}"
        for c in declared.location
    ]
    return f"REPLACE ({', '.join(replaced)})"


def _list_literal(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def rebuild_catalog(paths: StorePaths, tables: Mapping[str, Table], views: Mapping[str, str] | None = None) -> Path:
    """Write catalog.duckdb afresh (temp file + rename) from catalog.json and the runs folder:
    a view for each of `tables` (every table the stage graph declares), for `runs`, and the
    derived `views` (name -> the statement that creates it over those, in order)."""
    pointers = load_pointers(paths)
    temporary = paths.catalog.with_name(f".{paths.catalog.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    connection = duckdb.connect(str(temporary))
    try:
        if paths.remote is not None:  # views over the bucket's files: their schemas are read now
            connection.register_filesystem(paths.remote.fs)
        for table, declared in tables.items():
            files = sorted({_located(paths, entry["file"]) for entry in pointers.get(table, {}).values()})
            if not files:
                connection.execute(_empty_view(table, declared))
                continue
            hive_types = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in declared.partition) + "}"
            statement = load_sql("catalog_view").format(
                view=table, files=_list_literal(files), hive_types=hive_types, located=_located_columns(declared)
            )
            if not declared.partition:
                statement = statement.replace("hive_partitioning = true", "hive_partitioning = false")
                statement = statement.replace(f", hive_types = {hive_types}", "")
            connection.execute(statement)
        for statement in (views or {}).values():
            connection.execute(statement)
        run_files = _run_files(paths)
        if run_files:
            connection.execute(load_sql("runs_view").format(files=_list_literal(run_files)))
        else:
            connection.execute(_empty_view("runs", RUNS))
    finally:
        connection.close()
    os.replace(temporary, paths.catalog)
    paths.push(paths.catalog)
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
    if paths.remote is not None:
        paths.remote.check(writable=False)
    if not paths.pull(paths.catalog).exists():
        where = paths.remote.uri("catalog.duckdb") if paths.remote else paths.catalog
        holder = running_build(paths)
        if holder:
            raise StoreError(
                f"no catalog at {where} yet: the first build on this store is still running ({holder}); try again when it ends"
            )
        raise StoreError(f"no catalog at {where}: run `filterspeak build --store {paths.location}` first")
    _check_read_only(statement)
    # Confined to the store's own files: DuckDB may read under the store root (given and resolved, so a
    # store reached through a symlink works) and nothing else, and the statement cannot change that
    # (lock_configuration). DuckDB 2.0 takes neither allowed_directories nor allowed_paths in
    # connect(config=...) ("cannot set ... before the database is started"), and refuses to change them
    # once external access is off: so SET them, in that order, on a fresh private in-memory instance,
    # lock, then attach the catalog read-only. Connecting to the catalog file itself would share
    # DuckDB's per-process instance with any other connection to that file, locking it as well.
    roots = list(dict.fromkeys([str(Path(os.path.abspath(paths.root))), str(paths.root.resolve())]))
    if paths.remote is not None:  # the Parquet stays in the bucket, read through fsspec (no DuckDB extension)
        roots.append(paths.remote.uri(""))
    allowed = _list_literal([root.rstrip("/") + "/" for root in roots])
    catalog = str(paths.catalog.resolve()).replace("'", "''")
    connection = duckdb.connect()
    try:
        try:
            if paths.remote is not None:
                connection.register_filesystem(paths.remote.fs)
            connection.execute(f"SET temp_directory = '{catalog}.tmp'")  # where a file-backed catalog spills
            connection.execute(f"SET allowed_directories = {allowed}")
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            connection.execute(f"ATTACH '{catalog}' AS catalog (READ_ONLY)")
            connection.execute("USE catalog")
        except duckdb.Error as error:
            raise StoreError(_open_failure(paths, error)) from None
        try:
            return connection.sql(statement, params=params).to_arrow_table()
        except duckdb.PermissionException as error:
            refused = re.search(r'Cannot access file "(.*?)"', str(error))
            what = f"reading {refused.group(1)}" if refused else str(error).splitlines()[0]
            raise StoreError(f"{what} refused: queries may read only the store's own files ({paths.location})") from None
        except duckdb.Error as error:
            raise StoreError(f"SQL error: {error}") from None
    finally:
        connection.close()
