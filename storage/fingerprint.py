"""The one place that computes cache keys: content hashes of files, parameters and code."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

FINGERPRINT_LENGTH = 16
_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, memoised per (path, size, mtime) within the process."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]


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


def code_version(*modules: ModuleType) -> str:
    """Hash of the source of the modules a stage's result depends on."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(module.__name__.encode())
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:FINGERPRINT_LENGTH]
