"""`filterspeak sql` beside builds and other clients: reads the last finished build while one
runs, says so when none has finished yet or another client locked the catalog, refuses writes."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from filterspeak.flows.cli import main
from filterspeak.storage.cache import run_stage
from filterspeak.storage.catalog import is_read_only_statement, publish, query, rebuild_catalog
from filterspeak.storage.locks import build_lock, running_build
from filterspeak.storage.paths import StoreError, StorePaths


def _publish_classes(paths: StorePaths, names: list[str]) -> None:
    def compute(output):
        output.write("classes", pd.DataFrame({"class_id": range(len(names)), "name": names}))

    publish(paths, [run_stage(paths, "dataset", {"names": names}, compute)])
    rebuild_catalog(paths)


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
    ["DESCRIBE classes", "SHOW TABLES", "SUMMARIZE classes", "EXPLAIN SELECT * FROM classes", "FROM classes",
     "WITH c AS (SELECT * FROM classes) SELECT * FROM c", "(SELECT 1)"],
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
    with build_lock(paths):
        with pytest.raises(StoreError, match=r"no catalog at .* yet: the first build on this store is still running \(pid \d+\)"):
            query(paths, "SELECT * FROM classes")
    with pytest.raises(StoreError, match="run `filterspeak build"):
        query(paths, "SELECT * FROM classes")


def test_sql_when_another_client_holds_the_catalog_for_writing(store, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
         str(store.catalog)],
        stdout=subprocess.PIPE, text=True,
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
