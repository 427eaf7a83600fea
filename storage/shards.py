"""Resumable work areas: a long stage run stores its results shard by shard, so a killed run
(kill -9, power cut, OOM) resumes from the shards it finished instead of starting over.

`work/<stage>/<fingerprint>/` (StorePaths.work_dir, keyed like the stage output it will become)
holds per shard a Parquet file, written by the one atomic writer, and then a completion record
(temp + rename) naming the shard's items and the file's sha256: a shard counts as done only
when both exist and agree, so a half-written or foreign file is simply computed again. Nothing
here is published: the catalog points only at stage outputs, which the stage assembles from the
shards before deleting the work area.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from filterspeak.storage.fingerprint import sha256_file
from filterspeak.storage.json_files import read_json, write_json
from filterspeak.storage.parquet import read_arrow, write_table
from filterspeak.storage.paths import StorePaths


@dataclass(frozen=True)
class ShardArea:
    """The shards of one stage run (one fingerprint), each a `table` file plus its record."""

    directory: Path
    schema: pa.Schema

    @classmethod
    def of(cls, paths: StorePaths, stage: str, key: str, schema: pa.Schema) -> ShardArea:
        return cls(paths.work_dir(stage, key), schema)

    def _data(self, index: int) -> Path:
        return self.directory / f"shard-{index:05d}.parquet"

    def _record(self, index: int) -> Path:
        return self.directory / f"shard-{index:05d}.json"

    def is_done(self, index: int, items: str) -> bool:
        """Shard `index` is complete and holds exactly `items` (a fingerprint of its item ids)."""
        record = read_json(self._record(index))
        data = self._data(index)
        return isinstance(record, dict) and record.get("items") == items and data.is_file() and record.get("sha256") == sha256_file(data)

    def write(self, index: int, frame: pd.DataFrame | pa.Table, items: str) -> None:
        """Store shard `index` (data first, then its record: the record is the commit)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        rows = write_table(frame, self._data(index), self.schema)
        write_json(self._record(index), {"shard": index, "items": items, "rows": rows, "sha256": sha256_file(self._data(index))})

    def read(self, index: int) -> pa.Table:
        return read_arrow(self._data(index))

    def load_plan(self) -> dict | None:
        """Decisions taken once for the whole run (kept so a resumed run takes the same ones)."""
        plan = read_json(self.directory / "plan.json")
        return plan if isinstance(plan, dict) else None

    def save_plan(self, plan: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json(self.directory / "plan.json", plan)

    def remove(self) -> None:
        """Once the stage output is stored: the shards are no longer needed."""
        shutil.rmtree(self.directory, ignore_errors=True)
