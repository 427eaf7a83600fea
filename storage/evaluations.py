"""The store's last evaluation of each (backbone, layer): `evaluations/<backbone>__<layer>.json`,
written by `filterspeak evaluate`, read by the report's overview. It names the explanations it
scored, so a report shows it only for the build it was made from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterspeak.storage.json_files import read_json, write_json
from filterspeak.storage.paths import StorePaths, safe_segment


def evaluation_path(paths: StorePaths, backbone: str, layer: str) -> Path:
    return paths.root / "evaluations" / f"{safe_segment(backbone)}__{safe_segment(layer)}.json"


def save_evaluation(paths: StorePaths, backbone: str, layer: str, explanations: str, record: dict[str, Any]) -> Path:
    """`record` (EvaluationRecord.to_json()) of the build whose explanations stage has fingerprint `explanations`."""
    target = evaluation_path(paths, backbone, layer)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(target, {"explanations": explanations, "record": record})
    paths.push(target)
    return target


def load_evaluation(paths: StorePaths, backbone: str, layer: str, explanations: str) -> dict[str, Any] | None:
    """The stored evaluation record of that build, or None (none stored, or one of another build)."""
    stored = read_json(paths.pull(evaluation_path(paths, backbone, layer)))
    if not isinstance(stored, dict) or stored.get("explanations") != explanations:
        return None
    return stored.get("record")
