"""The layers point one way: the library (filterspeak/ but api), storage/ and tasks/ (the stages)
never import the read side and API (filterspeak/api) or the adapters (flows/: CLI and Prefect).
So nothing a user does with a finished build is part of a stage's cache key, and an edit of the
read side re-runs no stage. Checked on the source (every import statement, at any depth) and on
every stage's derived code closure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from filterspeak.storage.fingerprint import code_closure
from filterspeak.tasks.graph import STAGES

REPO = Path(__file__).resolve().parents[1]
ABOVE_THE_STAGES = ("filterspeak.api", "filterspeak.flows")
# folders of modules below the read side; filterspeak/__init__.py names the API only as strings (lazy)
BELOW = [REPO / "storage", REPO / "tasks", REPO / "sql", *[p for p in (REPO / "filterspeak").iterdir() if p.is_dir() and p.name != "api"]]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _is_above(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in ABOVE_THE_STAGES)


def test_no_module_below_the_read_side_imports_it():
    files = [path for folder in BELOW for path in folder.rglob("*.py")]
    assert len(files) > 100
    upward = {str(path.relative_to(REPO)): sorted(filter(_is_above, _imports(path))) for path in files}
    assert {path: names for path, names in upward.items() if names} == {}


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "stage.py"
    module.write_text("def f():\n    from filterspeak.api.search import search\n    import filterspeak.flows.cli\n")
    assert sorted(filter(_is_above, _imports(module))) == [
        "filterspeak.api.search",
        "filterspeak.api.search.search",
        "filterspeak.flows.cli",
    ]


@pytest.mark.parametrize("spec", STAGES, ids=[spec.name for spec in STAGES])
def test_a_stage_key_covers_no_read_side_adapter_graph_or_other_stage(spec):
    modules, _sql = code_closure(spec.module)
    assert sorted(filter(_is_above, modules)) == []
    others = {other.module for other in STAGES if other.module != spec.module}
    assert sorted(others & set(modules)) == []  # the graph imports every stage, so it is outside too
    assert "filterspeak.tasks.graph" not in modules
