"""The one place that knows where things live inside a store."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from filterspeak.errors import FilterSpeakError, OptionError

DEFAULT_STORE = "filterspeak-store"
STORE_ENV = "FILTERSPEAK_STORE"

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_store(store: str | os.PathLike | None = None) -> Path:
    """Explicit argument, else $FILTERSPEAK_STORE, else ./filterspeak-store."""
    chosen = store if store is not None else os.environ.get(STORE_ENV) or DEFAULT_STORE
    return Path(chosen).expanduser().resolve()


def safe_segment(value: str) -> str:
    """A partition value usable as a directory name (hive `key=value`)."""
    cleaned = _SAFE.sub("_", str(value)).strip("_")
    if not cleaned:
        raise OptionError(f"cannot use {value!r} as a name in the store (a backbone, layer or partition value): it needs a letter or digit")
    return cleaned


@dataclass(frozen=True)
class StorePaths:
    """Layout of a store directory.

    stages/<stage>/<fingerprint>/   content-addressed output of one stage run (+ manifest.json)
    runs/<run_id>.parquet           one row per stage per build run
    catalog.json                    which stage outputs are current, per table and partition
    catalog.duckdb                  views over the current Parquet files
    work/<stage>/<fingerprint>/     resumable shards or training checkpoints of a stage run not finished yet (never published)
    """

    root: Path

    @classmethod
    def at(cls, store: str | os.PathLike | None = None) -> StorePaths:
        return cls(resolve_store(store))

    @property
    def stages(self) -> Path:
        return self.root / "stages"

    def stage_dir(self, stage: str, fingerprint: str) -> Path:
        return self.stages / stage / fingerprint

    def manifest(self, stage: str, fingerprint: str) -> Path:
        return self.stage_dir(stage, fingerprint) / "manifest.json"

    def work_dir(self, stage: str, fingerprint: str) -> Path:
        """Scratch space of one stage run (extraction shards): survives a crash so the next run
        resumes, is deleted once the stage output is stored, and no catalog view reads it."""
        return self.root / "work" / stage / fingerprint

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def pointers(self) -> Path:
        return self.root / "catalog.json"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.duckdb"

    @property
    def lock(self) -> Path:
        return self.root / ".build.lock"

    def ensure(self) -> StorePaths:
        try:
            self.stages.mkdir(parents=True, exist_ok=True)
            self.runs.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot write the store at {self.root}: {error.strerror}") from error
        if not os.access(self.root, os.W_OK | os.X_OK):  # an existing store that is read-only (chmod, ro mount)
            raise StoreError(f"cannot write the store at {self.root}: it is read-only (`filterspeak sql` can still read it)")
        return self


class StoreError(FilterSpeakError, RuntimeError):
    """A store that is missing, unreadable or unwritable; the message is user-facing."""
