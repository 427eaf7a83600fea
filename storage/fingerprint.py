"""The one place that computes cache keys: hashes of parameters and code (a file's hash is
`filterspeak.files.sha256_file`)."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

FINGERPRINT_LENGTH = 16


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def fingerprint(value: Any) -> str:
    """Short stable hash of a JSON-able value (dict order does not matter)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:FINGERPRINT_LENGTH]


PACKAGE = "filterspeak"
SQL_LOADERS = {"load_sql"}  # calls whose string arguments name files in sql/


def read_source(path: str) -> str:
    """The text a module's code version is computed from (a seam for the mutation tests)."""
    return Path(path).read_text(encoding="utf-8")


def _spec(name: str):
    """The module spec of `name`, without importing it or its parents (`importlib.util.find_spec`
    imports the parent: an attribute such as `responses.RESPONSES` would import torch)."""
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__spec__", None)
    parent, _, _ = name.rpartition(".")
    path = None
    if parent:
        parent_spec = _spec(parent)
        if parent_spec is None or parent_spec.submodule_search_locations is None:  # `name` is an attribute
            return None
        path = parent_spec.submodule_search_locations
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, path) if find is not None else None
        if spec is not None:
            return spec
    return None


def _origin(name: str) -> str | None:
    spec = _spec(name)
    return spec.origin if spec is not None and spec.origin not in (None, "built-in", "frozen") else None


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _walk_executed(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (annotations only, never executed)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node) if not _is_type_checking(child))


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")  # where a statement holds statements


def _statements(tree: ast.AST):
    """Every statement (functions', classes' and blocks' included) except those under
    `if TYPE_CHECKING:`: imports are statements, so they are all here, without the expressions."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for body in _BODIES:
            stack.extend(child for child in getattr(node, body, ()) if not _is_type_checking(child))


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Names of the package's modules `tree` imports (anywhere, functions included)."""
    found: set[str] = set()
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)  # kept only if a module
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _sql_names(tree: ast.AST, source: str) -> set[str]:
    names: set[str] = set()
    if not any(loader in source for loader in SQL_LOADERS):  # no call can name one: skip the walk
        return names
    for node in _walk_executed(tree):
        if isinstance(node, ast.Call):
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if called in SQL_LOADERS:
                names.update(arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return names


def code_closure(root: str, reader: Callable[[str], str] | None = None) -> tuple[dict[str, str], set[str]]:
    """({module name: file} of every package module `root` can execute, names of the SQL files they load).

    The transitive closure of imports inside the package, read from the source (imports inside
    functions count; `if TYPE_CHECKING:` blocks do not), plus the packages' `__init__` modules,
    which run on import."""
    reader = reader or read_source
    modules: dict[str, str] = {}
    sql: set[str] = set()
    pending = [root]
    while pending:
        name = pending.pop()
        if name in modules:
            continue
        origin = _origin(name)
        if origin is None:
            continue
        modules[name] = origin
        imported, loaded = _analyse(name, origin.endswith("__init__.py"), reader(origin))
        pending.extend(imported)
        pending.extend(".".join(name.split(".")[:depth]) for depth in range(1, name.count(".") + 1))  # parents run first
        sql |= loaded
    return modules, sql


@functools.lru_cache(maxsize=1024)
def _analyse(name: str, is_package: bool, source: str) -> tuple[frozenset[str], frozenset[str]]:
    """(package modules imported, SQL files loaded) by a module's source; parsed once per text."""
    tree = ast.parse(source)
    return frozenset(_imported(tree, name, is_package)), frozenset(_sql_names(tree, source))


def code_version(root: str, reader: Callable[[str], str] | None = None) -> str:
    """Hash of the source of every module `root` can execute and of the SQL files they load."""
    from filterspeak.sql import sql_path  # the sql folder is a package of its own

    reader = reader or read_source
    modules, sql = code_closure(root, reader)
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode())
        digest.update(reader(modules[name]).encode())
    for name in sorted(sql):
        digest.update(f"sql/{name}".encode())
        digest.update(reader(str(sql_path(name))).encode())
    return digest.hexdigest()[:FINGERPRINT_LENGTH]
