"""Which stage outputs make up each recorded build of a (backbone, layer): what `explain`,
`evaluate` and `diff` read back.

A record is versioned (`format`): the reader accepts every format written so far, so an old
store keeps working after the record or the options change. Format 1 (before the stage graph)
had no `format` key and named the deciding stage in `decision`; format 2 lists every stage of
the build in `stages` (the graph works out which one decided).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from filterspeak.storage.json_files import write_json
from filterspeak.storage.paths import StoreError, StorePaths, safe_segment

FORMAT = 2


@dataclass(frozen=True)
class BuildRecord:
    backbone: str
    layer: str
    stages: dict[str, str]  # stage name -> fingerprint
    options: dict[str, Any]  # the build options as given (read back through filterspeak.options.options_from_record)
    run_id: str
    format: int = FORMAT
    notes: list[str] = field(default_factory=list)  # what reading an older format changed

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BuildRecord:
        version = raw.get("format", 1)
        if version > FORMAT:
            raise StoreError(
                f"this store's build record has format {version}, newer than this FilterSpeak reads ({FORMAT}); upgrade FilterSpeak"
            )
        stages = dict(raw["stages"])
        if version == 1 and raw.get("decision", "extract") not in stages:
            raise StoreError(f"build record of {raw['backbone']} ({raw['layer']}) names a deciding stage it does not list")
        return cls(raw["backbone"], raw["layer"], stages, dict(raw.get("options", {})), raw.get("run_id", ""), FORMAT)


def _path(paths: StorePaths, backbone: str, layer: str):
    return paths.root / "builds" / f"{safe_segment(backbone)}__{safe_segment(layer)}.json"


def save_build_record(paths: StorePaths, record: BuildRecord, latest: bool = True) -> None:
    """Record a build; `latest=False` keeps `explain`'s default build (evaluation twins use it)."""
    target = _path(paths, record.backbone, record.layer)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(target, {key: value for key, value in asdict(record).items() if key != "notes"})
    paths.push(target)
    if not latest:
        return
    write_json(paths.root / "builds" / "latest.json", {"backbone": record.backbone, "layer": record.layer})
    paths.push(paths.root / "builds" / "latest.json")


def load_build_record(paths: StorePaths, backbone: str | None = None, layer: str | None = None) -> BuildRecord:
    """The build of (backbone, layer); either left out means "the most recent build's"."""
    folder = paths.pull_folder(paths.root / "builds")
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*__*.json"))] if folder.exists() else []
    if not records:
        raise StoreError(f"no build found in {paths.location}: run `filterspeak build --store {paths.location}` first")
    latest = json.loads((folder / "latest.json").read_text())
    matches = [r for r in records if backbone in (None, r["backbone"]) and layer in (None, r["layer"])]
    if not matches:
        available = ", ".join(f"{r['backbone']} (layer {r['layer']})" for r in records)
        raise StoreError(f"no build for backbone={backbone} layer={layer} in {paths.location}; available: {available}")
    matches.sort(key=lambda r: (r["backbone"], r["layer"]) != (latest["backbone"], latest["layer"]))
    return BuildRecord.from_json(matches[0])
