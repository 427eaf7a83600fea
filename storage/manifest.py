"""What one stage run produced: written last, so its presence means the output is complete."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filterspeak.storage.json_files import write_json


@dataclass
class TableOutput:
    table: str
    path: str  # relative to the stage directory
    rows: int
    partition: dict[str, str] = field(default_factory=dict)
    sha256: str = ""  # of the file, recorded when stored (empty in outputs stored before it was)


@dataclass
class StageManifest:
    stage: str
    fingerprint: str
    inputs: dict[str, Any]
    tables: list[TableOutput] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # artifact name -> path relative to stage dir
    metrics: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""  # hash of the output bytes; downstream stages key on it
    seconds: float = 0.0

    def table(self, name: str) -> TableOutput:
        for output in self.tables:
            if output.table == name:
                return output
        raise KeyError(f"stage {self.stage!r} produced no table {name!r}")

    def save(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> StageManifest:
        raw = json.loads(path.read_text())
        raw["tables"] = [TableOutput(**entry) for entry in raw.get("tables", [])]
        return cls(**raw)
