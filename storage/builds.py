"""Which stage outputs make up the latest build of each (backbone, layer): what `explain` loads."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from filterspeak.storage.cache import StageResult, load_stage_result
from filterspeak.storage.json_files import write_json
from filterspeak.storage.paths import StoreError, StorePaths, safe_segment


@dataclass(frozen=True)
class BuildRecord:
    backbone: str
    layer: str
    stages: dict[str, str]  # stage name -> fingerprint
    options: dict[str, Any]  # the build options, to rebuild configs (backbone spec, preprocessing)
    run_id: str
    decision: str = "extract"  # the stage whose predictions are explained: extract (model head) or head

    def result(self, paths: StorePaths, stage: str) -> StageResult:
        return load_stage_result(paths, stage, self.stages[stage])


def _path(paths: StorePaths, backbone: str, layer: str):
    return paths.root / "builds" / f"{safe_segment(backbone)}__{safe_segment(layer)}.json"


def save_build_record(paths: StorePaths, record: BuildRecord, latest: bool = True) -> None:
    """Record a build; `latest=False` keeps `explain`'s default build (evaluation twins use it)."""
    target = _path(paths, record.backbone, record.layer)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(target, asdict(record))
    if not latest:
        return
    write_json(paths.root / "builds" / "latest.json", {"backbone": record.backbone, "layer": record.layer})


def load_build_record(paths: StorePaths, backbone: str | None = None, layer: str | None = None) -> BuildRecord:
    """The build of (backbone, layer); either left out means "the most recent build's"."""
    folder = paths.root / "builds"
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*__*.json"))] if folder.exists() else []
    if not records:
        raise StoreError(f"no build found in {paths.root}: run `filterspeak build --store {paths.root}` first")
    latest = json.loads((folder / "latest.json").read_text())
    matches = [r for r in records if backbone in (None, r["backbone"]) and layer in (None, r["layer"])]
    if not matches:
        available = ", ".join(f"{r['backbone']} (layer {r['layer']})" for r in records)
        raise StoreError(f"no build for backbone={backbone} layer={layer} in {paths.root}; available: {available}")
    matches.sort(key=lambda r: (r["backbone"], r["layer"]) != (latest["backbone"], latest["layer"]))
    return BuildRecord(**matches[0])
