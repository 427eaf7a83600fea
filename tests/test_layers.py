"""The layers point one way: library ← storage ← tasks ← read side and API ← flows and CLI. A module
imports only from its own layer or the layers before it:

    library    filterspeak/ but api/ (its top-level modules, backbones, captions, datasets, evaluation,
               interpret, report, nltk_data) and sql/ (filterspeak.sql, the SQL files)
    storage    storage/ (filterspeak.storage)
    tasks      tasks/ (filterspeak.tasks: the stages and their graph)
    read side  filterspeak/api
    flows      flows/ (filterspeak.flows: the CLI and the Prefect flows)

So nothing a user does with a finished build is part of a stage's cache key, an edit of the read
side re-runs no stage, and the library works without a store. Checked on the source of every
module of the package (every import statement at any depth, relative ones resolved, and every
`importlib.import_module` of a literal name) and on every stage's derived code closure.
`filterspeak/__init__.py` is library: it names the API only as strings, loaded on first use.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from filterspeak.storage.fingerprint import code_closure
from filterspeak.tasks.graph import STAGES

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("library", "storage", "tasks", "read side", "flows")
# module prefix -> its layer; the longest prefix that matches decides
PREFIXES = {
    "filterspeak": "library",
    "filterspeak.sql": "library",
    "filterspeak.storage": "storage",
    "filterspeak.tasks": "tasks",
    "filterspeak.api": "read side",
    "filterspeak.flows": "flows",
}
# Upward imports that remain, each a reported TODO of a file this change could not edit; the test
# fails on any other and on one of these once it is gone (then delete it here).
KNOWN_UPWARD: dict[str, list[str]] = {}  # none left; an entry here must be judged in the change that adds it


def _package_dirs() -> dict[str, Path]:
    """package -> its folder, as pyproject installs them (every folder of the package, nothing left out)."""
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    return {package: REPO / folder for package, folder in mapping.items()}


def _modules() -> dict[str, Path]:
    """module name -> file, for every module of the package (the folders are disjoint)."""
    modules = {}
    for package, folder in _package_dirs().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            modules[".".join((package, *parts[:-1], *([] if parts[-1] == "__init__" else parts[-1:])))] = path
    return modules


def _layer(name: str) -> str | None:
    """The layer of a module (None: not the package's, e.g. torch)."""
    matches = [prefix for prefix in PREFIXES if name == prefix or name.startswith(prefix + ".")]
    return PREFIXES[max(matches, key=len)] if matches else None


def _imports(path: Path, module: str) -> set[str]:
    """Every name `module`'s source imports: `import a.b`, `from a import b` (a and a.b), relative
    imports resolved, and `importlib.import_module("a.b")` with a literal name."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _is_import_call(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (isinstance(func, ast.Name) and func.id == "__import__")


def _upward(path: Path, module: str) -> list[str]:
    """What `module` (in `path`) imports from a layer above its own."""
    own = LAYERS.index(_layer(module))
    return sorted(name for name in _imports(path, module) if _layer(name) is not None and LAYERS.index(_layer(name)) > own)


def test_every_module_of_the_package_has_a_layer():
    modules = _modules()
    assert {_layer(name) for name in modules} == set(LAYERS)
    assert set(_package_dirs()) <= set(PREFIXES)  # a new installed folder needs a layer here
    assert len(modules) > 100
    library = {path.relative_to(REPO).parts[:2] for name, path in modules.items() if _layer(name) == "library"}
    assert {("filterspeak", part) for part in ("backbones", "captions", "datasets", "evaluation", "interpret", "report")} <= library
    assert {("filterspeak", "__init__.py"), ("filterspeak", "files.py"), ("sql", "__init__.py")} <= library
    assert not any(folder == ("filterspeak", "api") for folder in library)
    assert _layer("filterspeak.report.collect") == "library" and _layer("filterspeak.api.publish") == "read side"


def test_no_module_imports_from_a_layer_above_its_own():
    upward = {str(path.relative_to(REPO)): _upward(path, name) for name, path in _modules().items()}
    assert {path: names for path, names in upward.items() if names} == KNOWN_UPWARD


def test_the_check_sees_an_upward_import_at_any_depth(tmp_path):
    stage = tmp_path / "stage.py"
    stage.write_text("def f():\n    from filterspeak.api.search import search\n    import filterspeak.flows.cli\n")
    assert _upward(stage, "filterspeak.tasks.example") == [
        "filterspeak.api.search",
        "filterspeak.api.search.search",
        "filterspeak.flows.cli",
    ]


def test_the_check_sees_a_library_module_import_storage_or_tasks(tmp_path):
    library = tmp_path / "collect.py"
    library.write_text(
        "from filterspeak.report import content\n"  # its own layer: allowed
        "from filterspeak.storage.paths import StorePaths\n"
        "class Pictures:\n"
        "    def link(self):\n"
        "        from ..tasks import readers\n"  # relative, from filterspeak.report.collect
        "        importlib.import_module('filterspeak.api.metrics')\n"
    )
    assert _upward(library, "filterspeak.report.collect") == [
        "filterspeak.api.metrics",
        "filterspeak.storage.paths",
        "filterspeak.storage.paths.StorePaths",
        "filterspeak.tasks",
        "filterspeak.tasks.readers",
    ]
    assert _upward(library, "filterspeak.api.collect") == []  # the same imports are fine on the read side


def test_the_package_names_the_api_only_as_strings_loaded_on_first_use():
    """filterspeak/__init__.py is library: `fs.Store` resolves through a string, so importing the
    package (as every module of it does) loads no read-side module."""
    init = REPO / "filterspeak" / "__init__.py"
    assert _layer("filterspeak") == "library" and _upward(init, "filterspeak") == []
    assert "filterspeak.api.store" in init.read_text()  # named, as a string
    loaded = "import sys, filterspeak; print(sorted(m for m in sys.modules if m.startswith('filterspeak')))"
    assert subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True, check=True).stdout.strip() == "['filterspeak']"


@pytest.mark.parametrize("spec", STAGES, ids=[spec.name for spec in STAGES])
def test_a_stage_key_covers_no_read_side_adapter_graph_or_other_stage(spec):
    modules, _sql = code_closure(spec.module)
    assert sorted(name for name in modules if _layer(name) in ("read side", "flows")) == []
    others = {other.module for other in STAGES if other.module != spec.module}
    assert sorted(others & set(modules)) == []  # the graph imports every stage, so it is outside too
    assert "filterspeak.tasks.graph" not in modules
