"""The one place that knows where things live inside a store."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filterspeak.errors import FilterSpeakError, OptionError
from filterspeak.storage.remote import RemoteStore, is_remote

DEFAULT_STORE = "filterspeak-store"
STORE_ENV = "FILTERSPEAK_STORE"

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_store(store: str | os.PathLike | None = None) -> str:
    """Explicit argument, else $FILTERSPEAK_STORE, else ./filterspeak-store: an absolute directory,
    or an object-storage URL (s3://bucket/prefix) as given."""
    chosen = store if store is not None else os.environ.get(STORE_ENV) or DEFAULT_STORE
    if is_remote(chosen):
        return RemoteStore.of(chosen).url
    return str(Path(str(chosen).removeprefix("file://")).expanduser().resolve())


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
    files/<stage>/<fingerprint>/    single files of a stage output on object storage, fetched without the rest (files_of)
    caches/<name>/                  files that stages declaring the cache reuse across their outputs (the report's
                                    thumbnails): on this machine only, never published, safe to delete (cache_dir)

    A store on object storage (`remote`) has the same layout in its bucket; `root` is then this
    machine's mirror of it (storage/remote.py), and `pull`/`push` keep the mutable files in step.
    """

    root: Path
    remote: RemoteStore | None = None

    @classmethod
    def at(cls, store: str | os.PathLike | None = None) -> StorePaths:
        location = resolve_store(store)
        if is_remote(location):
            remote = RemoteStore.of(location)
            return cls(remote.mirror(), remote)
        return cls(Path(location))

    @property
    def location(self) -> str:
        """The store as the user names it: its directory, or its URL."""
        return self.remote.url if self.remote else str(self.root)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def readable(self, relative: str) -> tuple[str, Any | None]:
        """Where this machine reads a file of the store: its own copy when it has one, else the
        object in the bucket, with the fsspec filesystem to read it through (None for a local path)."""
        local = self.root / relative
        if self.remote is None or local.exists():
            return str(local), None
        return self.remote.uri(relative), self.remote.fs

    def files_of(self, stage: str, fingerprint: str, names: list[str]) -> list[str]:
        """Files that a table of a stage output names (its images), readable here: absolute names as
        they are; relative ones inside the output (StageResult.located), which a machine without a
        copy of the whole output (a worker that needs only its shard's images) fetches one by one
        into `files/`."""
        directory = self.stage_dir(stage, fingerprint)
        if self.remote is None or (directory / "manifest.json").exists():
            return [str(directory / name) for name in names]
        copies = self.root / "files" / stage / fingerprint
        missing = sorted({name for name in names if not Path(name).is_absolute() and not (copies / name).exists()})
        self.remote.download_files([f"{self.relative(directory)}/{name}" for name in missing], [copies / name for name in missing])
        return [name if Path(name).is_absolute() else str(copies / name) for name in names]

    def pull(self, path: Path) -> Path:
        """Refresh a mutable file (a build record, the pointers, the catalog) from the bucket; a file
        gone there goes here too. Local stores: nothing to do."""
        if self.remote and not self.remote.download(self.relative(path), path):
            path.unlink(missing_ok=True)
        return path

    def pull_folder(self, folder: Path) -> Path:
        """Refresh every file of a folder of mutable files (build records) from the bucket."""
        if self.remote:
            names = self.remote.files(self.relative(folder))
            for name in names:
                self.remote.download(f"{self.relative(folder)}/{name}", folder / name)
            for stale in folder.glob("*") if folder.exists() else []:
                if stale.is_file() and stale.name not in names:
                    stale.unlink()
        return folder

    def push(self, path: Path) -> None:
        """Publish a file written here to the bucket (one PUT: readers see the old or the new one)."""
        if self.remote:
            self.remote.upload(path, self.relative(path))

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

    def cache_dir(self, name: str) -> Path:
        """The cache `name`, shared by the stages that declare it (StageSpec.caches): files made once
        and linked into their outputs, named by what decides their content; no table reads it."""
        return self.root / "caches" / name

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
        """Ready to write (one line of error otherwise): the folders exist, the bucket accepts writes."""
        if self.remote:
            self.remote.check(writable=True)
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
