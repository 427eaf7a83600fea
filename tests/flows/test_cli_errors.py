"""User errors through the CLI: exit status 2, one line on stderr, no traceback, and nothing else
touched (no store started, the catalog intact). Read-only stores are made really read-only."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torchvision

from filterspeak.flows.cli import main
from filterspeak.storage.cache import run_stage
from filterspeak.storage.catalog import publish, query, rebuild_catalog
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.graph import TABLES, VIEWS
from tiny_build import TINY as TINY_BUILD
from tiny_build import cli_flags

TINY = cli_flags(TINY_BUILD)


def _catalog_store(root: Path) -> StorePaths:
    """A store with a published `classes` table (no Prefect, no training)."""
    paths = StorePaths(root).ensure()

    def compute(output):
        output.write("classes", pd.DataFrame({"class_id": [0, 1], "name": ["cardinal", "jay"]}))

    publish(paths, [run_stage(paths, "dataset", {"v": 1}, compute, TABLES)])
    rebuild_catalog(paths, TABLES, VIEWS)
    return paths


def _wrong_weights(tmp_path: Path) -> list[str]:
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    return ["build", "--store", str(tmp_path / "store"), "--backbone", "squeezenet1_0", "--weights", str(weights), "--layer", "features.12"]


def _unknown_layer(tmp_path: Path) -> list[str]:
    return ["build", "--store", str(tmp_path / "store"), *TINY, "--layer", "features.9"]


def _store_under_a_file(tmp_path: Path) -> list[str]:
    (tmp_path / "a-file").write_text("not a folder")
    return ["build", "--store", str(tmp_path / "a-file" / "store"), *TINY]


def _write_statement(tmp_path: Path) -> list[str]:
    _catalog_store(tmp_path / "store")
    return ["sql", "--store", str(tmp_path / "store"), "DROP VIEW classes"]


def _no_build_yet(tmp_path: Path) -> list[str]:
    return ["sql", "--store", str(tmp_path / "store"), "SELECT * FROM classes"]


CASES = {
    "weights file for the wrong architecture": (_wrong_weights, r"does not fit architecture squeezenet1_0: \d+ missing keys"),
    "layer that does not exist": (_unknown_layer, "layer 'features.9' not found; valid layers: features, features.0, "),
    "unwritable store path": (_store_under_a_file, "cannot write the store at .*a-file/store: Not a directory"),
    "write statement passed to sql": (_write_statement, "only read-only queries are allowed.*got DROP"),
    "sql before any build": (_no_build_yet, "no catalog at .*run `filterspeak build"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_error_is_one_line_and_touches_nothing(tmp_path, capsys, case):
    make, message = CASES[case]
    argv = make(tmp_path)
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("filterspeak: error: ")
    assert __import__("re").search(message, captured.err), captured.err
    store = tmp_path / "store"
    if argv[0] == "build":
        assert not store.exists()  # refused before any work
    elif store.exists() and (store / "catalog.duckdb").exists():
        assert query(StorePaths(store), "SELECT count(*) AS n FROM classes").to_pylist() == [{"n": 2}]  # intact


def _read_only_run(folder: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """Run the CLI with `folder` read-only: chmod when not root; root ignores permissions, so then
    a read-only bind mount in a private mount namespace (unshare)."""
    command = [sys.executable, "-m", "filterspeak.flows.cli", *argv]
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
        for path, mode in modes.items():
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=300)
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
    probe = ["unshare", "-r", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0"', str(folder)]
    if not shutil.which("unshare") or subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("running as root where no private read-only mount can be made: cannot make a folder read-only")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return subprocess.run(["unshare", "-r", "-m", "sh", "-c", script, str(folder), *command], capture_output=True, text=True, timeout=300)


def test_read_only_store_answers_sql_and_refuses_a_build_in_one_line(tmp_path):
    paths = _catalog_store(tmp_path / "store")
    before = sorted(str(p.relative_to(paths.root)) for p in paths.root.rglob("*"))

    answered = _read_only_run(paths.root, ["sql", "--store", str(paths.root), "SELECT name FROM classes ORDER BY 1", "--format", "csv"])
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.splitlines() == ["name", "cardinal", "jay"] and answered.stderr == ""

    refused = _read_only_run(paths.root, ["build", "--store", str(paths.root), *TINY])
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"filterspeak: error: cannot write the store at {paths.root}: it is read-only (`filterspeak sql` can still read it)"
    ]
    assert sorted(str(p.relative_to(paths.root)) for p in paths.root.rglob("*")) == before  # nothing written


def test_store_in_a_read_only_folder_is_refused_in_one_line(tmp_path):
    parent = tmp_path / "shared"
    parent.mkdir()
    refused = _read_only_run(parent, ["build", "--store", str(parent / "store"), *TINY])
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"filterspeak: error: cannot write the store at {parent / 'store'}: ")
    assert line.endswith(("Permission denied", "Read-only file system"))
    assert not (parent / "store").exists()


def _user_error_run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "filterspeak.flows.cli", *argv], check=False, capture_output=True, text=True, timeout=300)


def test_user_error_from_the_command_line_is_exit_2_and_one_line(tmp_path):
    refused = _user_error_run(["sql", "--store", str(tmp_path / "store"), "SELECT * FROM classes"])
    assert refused.returncode == 2 and refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"filterspeak: error: no catalog at {tmp_path / 'store'}")


def test_a_wrong_option_is_argparse_usage_and_exit_2(capsys):
    with pytest.raises(SystemExit, match="^2$"):
        main(["build", "--epochs", "many"])
    assert "invalid int value: 'many'" in capsys.readouterr().err


BUGS = {
    "ZeroDivisionError": (ZeroDivisionError("division by zero"), ZeroDivisionError, "division by zero"),
    "RuntimeError": (RuntimeError("shape mismatch"), RuntimeError, "shape mismatch"),
    "ValueError": (ValueError("operands could not be broadcast together"), ValueError, "could not be broadcast"),
    "OSError": (OSError(5, "Input/output error"), OSError, "Input/output error"),
}


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_bug_propagates_out_of_main_instead_of_becoming_a_user_error(tmp_path, capsys, monkeypatch, bug):
    from filterspeak.storage import catalog

    raised, kind, message = BUGS[bug]

    def broken(*args, **kwargs):
        raise raised

    monkeypatch.setattr(catalog, "query", broken)  # the first thing `sql` calls
    capsys.readouterr()
    with pytest.raises(kind, match=message):
        main(["sql", "--store", str(tmp_path / "store"), "SELECT * FROM classes"])
    assert "filterspeak: error" not in capsys.readouterr().err


def test_a_bug_from_the_command_line_is_exit_1_with_its_traceback(tmp_path):
    script = (
        "import sys\n"
        "import filterspeak.storage.catalog as catalog\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('shape mismatch')\n"
        "catalog.query = broken\n"
        "from filterspeak.flows.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-c", script, "sql", "--store", str(tmp_path / "store"), "SELECT * FROM classes"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crashed.returncode == 1 and crashed.stdout == ""
    assert crashed.stderr.count("Traceback (most recent call last):") == 1
    assert crashed.stderr.splitlines()[-1] == "RuntimeError: shape mismatch"
    assert "filterspeak: error" not in crashed.stderr
