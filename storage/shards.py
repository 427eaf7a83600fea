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

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from filterspeak.files import sha256_file
from filterspeak.storage.json_files import read_json, write_json
from filterspeak.storage.parquet import read_arrow, write_table
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.remote import RemoteStore


@dataclass(frozen=True)
class ShardArea:
    """The shards of one stage run (one fingerprint), each a `table` file plus its record.

    For a store on object storage (`remote`) the area lives in the bucket, where every worker of a
    cluster writes and a resumed client finds them; a record is then checked against the object's
    size (a PUT is atomic, so a stored object is never half-written)."""

    directory: Path
    schema: pa.Schema
    remote: RemoteStore | None = None
    relative: str = ""  # the area's folder in the bucket

    @classmethod
    def of(cls, paths: StorePaths, stage: str, key: str, schema: pa.Schema) -> ShardArea:
        directory = paths.work_dir(stage, key)
        return cls(directory, schema, paths.remote, paths.relative(directory) if paths.remote else "")

    def _data(self, index: int) -> Path:
        return self.directory / f"shard-{index:05d}.parquet"

    def _record(self, index: int) -> Path:
        return self.directory / f"shard-{index:05d}.json"

    def _in_bucket(self, path: Path) -> str:
        return f"{self.relative}/{path.name}"

    def _read_json(self, path: Path) -> Any | None:
        if self.remote is None:
            return read_json(path)
        raw = self.remote.read_bytes(self._in_bucket(path))
        try:
            return None if raw is None else json.loads(raw)
        except ValueError:
            return None

    def _write_json(self, path: Path, value: Any) -> None:
        if self.remote is None:
            write_json(path, value)
        else:
            self.remote.write_bytes(self._in_bucket(path), json.dumps(value, indent=2, sort_keys=True).encode())

    def is_done(self, index: int, items: str) -> bool:
        """Shard `index` is complete and holds exactly `items` (a fingerprint of its item ids)."""
        record = self._read_json(self._record(index))
        if not (isinstance(record, dict) and record.get("items") == items):
            return False
        data = self._data(index)
        if self.remote is not None:
            return record.get("bytes") is not None and self.remote.size(self._in_bucket(data)) == record["bytes"]
        return data.is_file() and record.get("sha256") == sha256_file(data)

    def write(self, index: int, frame: pd.DataFrame | pa.Table, items: str) -> None:
        """Store shard `index` (data first, then its record: the record is the commit)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self._data(index)
        rows = write_table(frame, data, self.schema)
        record = {"shard": index, "items": items, "rows": rows, "sha256": sha256_file(data), "bytes": data.stat().st_size}
        if self.remote is not None:
            self.remote.upload(data, self._in_bucket(data))
            data.unlink()
        self._write_json(self._record(index), record)

    def read(self, index: int) -> pa.Table:
        if self.remote is not None:
            return pq.read_table(pa.BufferReader(self.remote.read_bytes(self._in_bucket(self._data(index)))))
        return read_arrow(self._data(index))

    def load_plan(self) -> dict | None:
        """Decisions taken once for the whole run (kept so a resumed run takes the same ones)."""
        plan = self._read_json(self.directory / "plan.json")
        return plan if isinstance(plan, dict) else None

    def save_plan(self, plan: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_json(self.directory / "plan.json", plan)

    def remove(self) -> None:
        """Once the stage output is stored: the shards are no longer needed."""
        shutil.rmtree(self.directory, ignore_errors=True)
        if self.remote is not None:
            self.remote.remove_folder(self.relative)
