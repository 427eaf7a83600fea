"""Generic file utilities, below the store: write a file whole, hash a file's bytes.

`atomic_write` is the one way to write a file so that no reader (a resumed run, a browser, another
process) ever sees half of it: write a temporary sibling, then rename it over the target.
`sha256_file` is the one file hash (a weights file's record, a stage output's tables and files).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def atomic_write(path: Path, save: Callable[[BinaryIO], object]) -> None:
    """`save(stream)` into a temporary file beside `path`, renamed over `path` once complete; on any
    error the temporary file is removed and `path` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            save(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
