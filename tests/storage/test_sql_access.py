"""`filterspeak sql` beside builds and other clients: reads the last finished build while one
runs, says so when none has finished yet or another client locked the catalog, refuses writes."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from filterspeak.flows.cli import main
from filterspeak.storage import catalog
from filterspeak.storage.cache import run_stage
from filterspeak.storage.catalog import is_read_only_statement, publish, query, rebuild_catalog
from filterspeak.storage.locks import build_lock, running_build
from filterspeak.storage.paths import StoreError, StorePaths
from filterspeak.tasks.graph import TABLES, VIEWS


def _publish_classes(paths: StorePaths, names: list[str]) -> None:
    def compute(output):
        output.write("classes", pd.DataFrame({"class_id": range(len(names)), "name": names}))

    publish(paths, [run_stage(paths, "dataset", {"names": names}, compute, TABLES)])
    rebuild_catalog(paths, TABLES, VIEWS)


@pytest.fixture
def store(tmp_path):
    paths = StorePaths(tmp_path / "store").ensure()
    _publish_classes(paths, ["cardinal", "jay"])
    return paths


def _names(paths: StorePaths) -> list[str]:
    return [row["name"] for row in query(paths, "SELECT name FROM classes ORDER BY class_id").to_pylist()]


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM classes",
        "SELECT 1; DROP VIEW classes",  # a harmless first word does not let a second statement through
        "COPY (SELECT * FROM classes) TO 'out.csv'",
        "EXPORT DATABASE 'dump'",
        "ATTACH 'other.duckdb' AS other",
        "SET threads = 1",
        "INSTALL httpfs",
        "CALL pragma_version()",
        "CREATE TABLE t AS SELECT 1",
    ],
)
def test_write_statements_are_refused_in_one_line(store, tmp_path, monkeypatch, statement):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="only read-only queries are allowed") as refusal:
        query(store, statement)
    assert "\n" not in str(refusal.value)
    assert not is_read_only_statement(statement)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # nothing was written
    assert _names(store) == ["cardinal", "jay"]  # the catalog is intact


@pytest.mark.parametrize(
    "statement",
    [
        "DESCRIBE classes",
        "SHOW TABLES",
        "SUMMARIZE classes",
        "EXPLAIN SELECT * FROM classes",
        "FROM classes",
        "WITH c AS (SELECT * FROM classes) SELECT * FROM c",
        "(SELECT 1)",
    ],
)
def test_read_only_statements_run(store, statement):
    assert is_read_only_statement(statement)
    assert query(store, statement).num_rows >= 1


def test_a_syntax_error_is_an_sql_error_not_a_refusal(store):
    with pytest.raises(StoreError, match="SQL error: Parser Error"):
        query(store, "SELEC name FROM classes")


def test_sql_reads_the_last_finished_build_while_a_build_runs(store, capsys):
    with build_lock(store):  # a build is running
        assert running_build(store) == f"pid {__import__('os').getpid()}"
        assert _names(store) == ["cardinal", "jay"]
        reader = duckdb.connect(str(store.catalog), read_only=True)  # a query in flight when the build publishes
        _publish_classes(store, ["cardinal", "jay", "tanager"])  # the build finishes its catalog
        assert reader.execute("SELECT count(*) FROM classes").fetchall() == [(2,)]  # the old catalog, intact
        reader.close()
        assert _names(store) == ["cardinal", "jay", "tanager"]
        assert main(["sql", "--store", str(store.root), "SELECT count(*) AS n FROM classes", "--format", "csv"]) == 0
        captured = capsys.readouterr()
        assert captured.out.splitlines() == ["n", "3"]
        assert captured.err.startswith("note: a build is running on this store (pid ")
    assert running_build(store) is None
    assert main(["sql", "--store", str(store.root), "SELECT 1 AS one"]) == 0
    assert capsys.readouterr().err == ""


def test_sql_before_the_first_build_finishes_says_so(tmp_path):
    paths = StorePaths(tmp_path / "fresh")
    with (
        build_lock(paths),
        pytest.raises(StoreError, match=r"no catalog at .* yet: the first build on this store is still running \(pid \d+\)"),
    ):
        query(paths, "SELECT * FROM classes")
    with pytest.raises(StoreError, match="run `filterspeak build"):
        query(paths, "SELECT * FROM classes")


def test_sql_when_another_client_holds_the_catalog_for_writing(store, capsys):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            str(store.catalog),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        assert main(["sql", "--store", str(store.root), "SELECT * FROM classes"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"is locked by another process (PID {holder.pid}" in err and "read-only" in err
    finally:
        holder.kill()
        holder.wait()
    assert _names(store) == ["cardinal", "jay"]


# Confined to the store: a read-only statement still cannot read (or list) any file outside the store.

REFUSED = "refused: queries may read only the store's own files"


@pytest.fixture
def outside(tmp_path):
    """Real files in a folder beside the store, so a refusal cannot be mistaken for a missing file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    pd.DataFrame({"secret": [42]}).to_parquet(folder / "secret.parquet")
    (folder / "secret.csv").write_text("secret\n42\n")
    (folder / "secret.txt").write_text("42\n")
    connection = duckdb.connect()  # an unconfined DuckDB reads them all
    assert connection.sql(f"SELECT secret FROM read_parquet('{folder}/secret.parquet')").fetchall() == [(42,)]
    assert connection.sql(f"SELECT secret FROM read_csv('{folder}/secret.csv')").fetchall() == [(42,)]
    connection.close()
    return folder


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT content FROM read_text('{outside}/secret.txt')",
        "SELECT * FROM read_csv('{outside}/secret.csv')",
        "SELECT * FROM read_parquet('{outside}/secret.parquet')",
        "SELECT * FROM '{outside}/secret.parquet'",
        "SELECT file FROM glob('{outside}/*')",
        "SELECT file FROM glob('/etc/*')",
        "SELECT content FROM read_text('/etc/hostname')",
        "SELECT * FROM read_csv('{store}/../outside/secret.csv')",  # a path that climbs out of the store
    ],
)
def test_files_outside_the_store_are_refused(store, outside, statement):
    with pytest.raises(StoreError, match=REFUSED) as refusal:
        query(store, statement.format(outside=outside, store=store.root))
    assert "\n" not in str(refusal.value) and str(store.root) in str(refusal.value)
    assert "42" not in str(refusal.value)


def test_the_cli_refuses_a_file_outside_the_store_in_one_line(store, capsys):
    assert main(["sql", "--store", str(store.root), "SELECT * FROM read_text('/etc/hostname')"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "reading /etc/hostname refused: queries may read only the store's own files" in captured.err


@pytest.mark.parametrize(
    "statement",
    [
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET allowed_paths = ['{outside}/secret.txt']",
        "SET lock_configuration = false",
        "RESET enable_external_access",
        "RESET allowed_directories",
        "SET enable_external_access = true; SELECT content FROM read_text('{outside}/secret.txt')",
    ],
)
def test_a_query_cannot_lift_the_confinement(store, outside, monkeypatch, statement):
    statement = statement.format(outside=outside)
    with pytest.raises(StoreError, match="only read-only queries are allowed"):
        query(store, statement)
    # Even past the read-only check, DuckDB's locked configuration refuses the change.
    monkeypatch.setattr(catalog, "_check_read_only", lambda statement: None)
    with pytest.raises(StoreError, match='Cannot change configuration option ".*" - the configuration has been locked'):
        query(store, statement)
    with pytest.raises(StoreError, match=REFUSED):
        query(store, f"SELECT content FROM read_text('{outside}/secret.txt')")


def test_the_store_own_parquet_files_stay_readable(store):
    files = query(store, f"SELECT file FROM glob('{store.stages}/*/*/classes/*.parquet')").column("file").to_pylist()
    assert len(files) == 1
    rows = query(store, f"SELECT name FROM read_parquet('{files[0]}') ORDER BY class_id").to_pylist()
    assert [row["name"] for row in rows] == ["cardinal", "jay"]
    assert _names(store) == ["cardinal", "jay"]  # the catalog's views, over the same files


def test_a_store_reached_through_a_symlink(store, outside, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(store.root, target_is_directory=True)
    linked = StorePaths(link)
    assert _names(linked) == ["cardinal", "jay"]
    assert query(linked, f"SELECT count(*) AS n FROM read_parquet('{link}/stages/*/*/classes/*.parquet')").to_pylist() == [{"n": 2}]
    with pytest.raises(StoreError, match=REFUSED):
        query(linked, f"SELECT * FROM read_csv('{outside}/secret.csv')")
    # a store built through a symlink (its views name files under the link) reads both ways too
    (tmp_path / "real2").mkdir()
    (tmp_path / "link2").symlink_to(tmp_path / "real2", target_is_directory=True)
    _publish_classes(StorePaths(tmp_path / "link2").ensure(), ["tanager"])
    views = duckdb.connect(str(tmp_path / "real2" / "catalog.duckdb"), read_only=True)
    try:
        definition = views.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'classes'").fetchone()[0]
    finally:
        views.close()
    assert str(tmp_path / "link2" / "stages") in definition
    assert _names(StorePaths(tmp_path / "link2")) == ["tanager"]
    assert _names(StorePaths(tmp_path / "real2")) == ["tanager"]


def test_queries_in_one_process_do_not_share_the_confinement(store, tmp_path):
    """Each query gets its own DuckDB: a connection the caller holds on the catalog stays unconfined,
    and a second store's query is confined to that store, not the first."""
    other = StorePaths(tmp_path / "other").ensure()
    _publish_classes(other, ["tanager"])
    reader = duckdb.connect(str(store.catalog), read_only=True)
    try:
        assert _names(store) == ["cardinal", "jay"]
        assert reader.execute("SELECT current_setting('enable_external_access')").fetchall() == [(True,)]
        assert _names(other) == ["tanager"]
        assert _names(store) == ["cardinal", "jay"]
    finally:
        reader.close()
    with pytest.raises(StoreError, match=REFUSED):
        query(other, f"SELECT * FROM read_parquet('{store.stages}/*/*/classes/*.parquet')")
