"""The store's small JSON files (manifests, build records, catalog pointers, shard records):
written atomically (temp + rename), so a reader never sees half a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from filterspeak.files import atomic_write


def write_json(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=2, sort_keys=True).encode()
    atomic_write(path, lambda stream: stream.write(text))


def read_json(path: Path) -> Any | None:
    """The file's value, or None when it is missing or not valid JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
