"""Content-addressed stage execution: reuse an output when its fingerprint already exists.

A stage's fingerprint is a hash of everything it depends on (upstream content hashes, weights
sha256, parameters, code version). Its output lives in `stages/<stage>/<fingerprint>/`, built in
a temporary sibling directory and renamed into place with the manifest inside, so a killed run
leaves either a complete output or nothing that a later run would mistake for one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from filterspeak.files import sha256_file
from filterspeak.storage.fingerprint import fingerprint
from filterspeak.storage.manifest import StageManifest, TableOutput
from filterspeak.storage.parquet import TableWriter, read_arrow, read_batches, read_table
from filterspeak.storage.paths import StoreError, StorePaths, safe_segment
from filterspeak.storage.schemas import Table


@dataclass
class StageOutput:
    """Handed to a stage's compute function: where to put tables, files and metrics.

    `declared` are the tables the stage may write; `partition` the values of their partition
    columns in this run (backbone, layer, stage)."""

    directory: Path
    final_directory: Path  # where `directory` will be renamed to once complete
    declared: Mapping[str, Table] = field(default_factory=dict)
    partition: Mapping[str, str] = field(default_factory=dict)
    work: Path | None = None  # resumable scratch space of this run (StorePaths.work_dir), removed once stored
    caches: Mapping[str, Path] = field(default_factory=dict)  # the caches the stage declares: name -> folder (StorePaths.cache_dir)
    tables: list[TableOutput] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def write(self, table: str, frame: Any) -> Path:
        """Store a whole table."""
        with self.writer(table) as writer:
            writer.write(frame)
        return writer.path

    @contextmanager
    def writer(self, table: str) -> Iterator[TableWriter]:
        """Store a table piece by piece (`writer.write(frame)` per chunk): a stage streams a table
        that would not fit in memory. It counts as written when the block ends without error."""
        if table not in self.declared:
            raise KeyError(f"table {table!r} is not among the tables this stage declares: {', '.join(self.declared)}")
        spec = self.declared[table]
        missing = [column for column in spec.partition if column not in self.partition]
        if missing:
            raise KeyError(f"table {table!r} is partitioned by {spec.partition}; this run has no value for {missing}")
        partition = {column: str(self.partition[column]) for column in spec.partition}
        relative = Path(table, *(f"{key}={safe_segment(value)}" for key, value in partition.items()), "data.parquet")
        with TableWriter(self.directory / relative, spec.schema, table) as writer:
            yield writer
        self.tables.append(
            TableOutput(table=table, path=str(relative), rows=writer.rows, partition=partition, sha256=sha256_file(writer.path))
        )
        if spec.location:  # readers key on these metrics instead of the columns (see Table.location)
            self.metrics.setdefault("locations", {})[table] = dict(spec.location)

    def cache(self, name: str) -> Path:
        """The folder of a cache the stage declares, the one place outside the output it writes: files
        it makes once for all its outputs and links into them (what is linked is the output's)."""
        if name not in self.caches:
            raise KeyError(f"cache {name!r} is not among the caches this stage declares: {', '.join(self.caches) or 'none'}")
        return self.caches[name]

    def file(self, name: str, relative: str) -> Path:
        """Reserve an artifact path (a weights file, an image folder) inside the output."""
        self.files[name] = relative
        path = self.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class StageResult:
    manifest: StageManifest
    directory: Path
    reused: bool
    store: StorePaths | None = None  # the store it is in (for jobs that name its files on other machines)

    def relative(self, table: str) -> str:
        """The file of `table`, relative to the store: how another machine finds it (StorePaths.readable)."""
        return self.store.relative(self.table_path(table))

    @property
    def stage(self) -> str:
        return self.manifest.stage

    @property
    def content_hash(self) -> str:
        return self.manifest.content_hash

    @property
    def metrics(self) -> dict[str, Any]:
        return self.manifest.metrics

    def has_table(self, table: str) -> bool:
        return any(output.table == table for output in self.manifest.tables)

    def table_path(self, table: str) -> Path:
        return self.directory / self.manifest.table(table).path

    def file_path(self, name: str) -> Path:
        try:
            return self.directory / self.manifest.files[name]
        except KeyError:
            raise KeyError(f"stage {self.stage!r} produced no file {name!r}") from None

    def read(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        return read_table(self.table_path(table), columns)

    def read_arrow(self, table: str, columns: list[str] | None = None) -> pa.Table:
        return read_arrow(self.table_path(table), columns)

    def batches(self, table: str, columns: list[str] | None = None, rows: int = 4096) -> Iterator[pa.RecordBatch]:
        """The table in row order, `rows` at a time (for tables too large to hold at once)."""
        return read_batches(self.table_path(table), columns, rows)

    def table_hash(self, table: str, columns: list[str] | None = None) -> str:
        """Content hash of one output table (or of some of its columns): what a downstream stage
        that reads only that keys on. Columns let a stage ignore what it does not use (e.g. the
        storage path of an image whose pixels it hashes separately)."""
        if columns is None:
            return self.manifest.table(table).sha256 or sha256_file(self.table_path(table))  # recorded when stored
        frame = self.read(table, columns)
        digest = hashlib.sha256(",".join(columns).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return digest.hexdigest()[:32]

    def located(self, names) -> list[str]:
        """The files a table of this output names (an image's `path`): a relative name is inside this
        output, so the table reads the same wherever the store is (a bucket, its mirror on a worker);
        an absolute one is outside the store."""
        return [str(self.directory / name) for name in names]

    def file_hash(self, name: str) -> str:
        """Content hash of one artifact (a file, or every file in a folder)."""
        return artifact_hash(self.directory, self.manifest.files[name])


def artifact_hash(directory: Path, relative: str) -> str:
    """Content hash of a file, or of every file in a folder, inside a stage directory."""
    target = directory / relative
    members = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    digest = hashlib.sha256()
    for member in members:
        digest.update(str(member.relative_to(target if target.is_dir() else target.parent)).encode())
        digest.update(sha256_file(member).encode())
    return digest.hexdigest()[:32]


def _content_hash(directory: Path, manifest: StageManifest) -> str:
    digest = hashlib.sha256()
    for output in sorted(manifest.tables, key=lambda entry: entry.path):
        digest.update(output.path.encode())
        digest.update((output.sha256 or sha256_file(directory / output.path)).encode())
    for name, relative in sorted(manifest.files.items()):
        digest.update(name.encode())
        digest.update(artifact_hash(directory, relative).encode())
    return digest.hexdigest()[:32]


def _complete(directory: Path, manifest: StageManifest) -> bool:
    paths = [directory / entry.path for entry in manifest.tables]
    paths += [directory / relative for relative in manifest.files.values()]
    return all(path.exists() for path in paths)


def stage_key(stage: str, inputs: dict[str, Any]) -> str:
    """The fingerprint a stage output (and its resumable work area) is stored under."""
    return fingerprint({"stage": stage, "inputs": inputs})


def _fetch(paths: StorePaths, final: Path) -> None:
    """Copy a stage output from the bucket into this machine's mirror, if the bucket holds a complete
    one (its manifest, uploaded last, and every file the manifest lists); otherwise leave nothing."""
    if paths.remote is None or (final / "manifest.json").exists():
        return
    relative = paths.relative(final)
    raw = paths.remote.read_bytes(f"{relative}/manifest.json")
    if raw is None:
        return
    listed = json.loads(raw)
    needed = [entry["path"] for entry in listed.get("tables", [])] + list(listed.get("files", {}).values())
    members = paths.remote.files(relative)
    if all(any(m == n or m.startswith(n.rstrip("/") + "/") for m in members) for n in needed):
        paths.remote.download_folder(relative, final, members)


def _publish(paths: StorePaths, final: Path) -> None:
    """Make a stored output visible in the bucket too (files first, manifest last); also what a run
    does for an output a killed run stored here but never uploaded."""
    if paths.remote is not None and paths.remote.size(f"{paths.relative(final)}/manifest.json") is None:
        paths.remote.upload_folder(final, paths.relative(final), last="manifest.json")


def _discard_work(paths: StorePaths, stage: str, key: str) -> None:
    """The run's scratch space (shards, checkpoints), here and in the bucket: the output is stored."""
    shutil.rmtree(paths.work_dir(stage, key), ignore_errors=True)
    if paths.remote is not None:
        paths.remote.remove_folder(paths.relative(paths.work_dir(stage, key)))


def lookup(paths: StorePaths, stage: str, inputs: dict[str, Any]) -> StageResult | None:
    """The complete cached output for these inputs, or None."""
    final = paths.stage_dir(stage, stage_key(stage, inputs))
    manifest_path = final / "manifest.json"
    _fetch(paths, final)
    if manifest_path.exists():
        manifest = StageManifest.load(manifest_path)
        if _complete(final, manifest):
            return StageResult(manifest=manifest, directory=final, reused=True, store=paths)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_dead_partials(final: Path) -> None:
    """Delete what killed runs left half-built for this output (`.<key>.<pid>.partial` of a pid
    that is gone); a live process's partial output is its own and stays."""
    for partial in final.parent.glob(f".{final.name}.*.partial"):
        pid = partial.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def run_stage(
    paths: StorePaths,
    stage: str,
    inputs: dict[str, Any],
    compute: Callable[[StageOutput], None],
    declared: Mapping[str, Table] | None = None,
    partition: Mapping[str, str] | None = None,
    caches: Iterable[str] = (),
) -> StageResult:
    """Return the cached output for `inputs`, or compute it once and store it atomically; `caches`:
    the shared caches (StorePaths.cache_dir) the compute function may write besides its output.

    The run's work area (checkpoints, shards) survives a crash so the next run resumes; once the
    output is stored it is removed."""
    key = stage_key(stage, inputs)
    cached = lookup(paths, stage, inputs)
    if cached is not None:
        _publish(paths, cached.directory)  # a run killed between storing and uploading
        _discard_work(paths, stage, key)  # left by a run killed after storing
        return cached
    final = paths.stage_dir(stage, key)

    started = time.perf_counter()
    _remove_dead_partials(final)
    work = final.with_name(f".{key}.{os.getpid()}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    output = StageOutput(
        directory=work,
        final_directory=final,
        declared=dict(declared or {}),
        partition=dict(partition or {}),
        work=paths.work_dir(stage, key),
        caches={name: paths.cache_dir(name) for name in caches},
    )
    try:
        compute(output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    manifest = StageManifest(
        stage=stage,
        fingerprint=key,
        inputs=inputs,
        tables=output.tables,
        files=output.files,
        metrics=output.metrics,
        seconds=round(time.perf_counter() - started, 3),
    )
    manifest.content_hash = _content_hash(work, manifest)
    manifest.save(work / "manifest.json")
    if final.exists():  # an incomplete leftover from a killed run
        shutil.rmtree(final)
    os.rename(work, final)
    _publish(paths, final)
    _discard_work(paths, stage, key)  # stored: the scratch space is no longer needed
    return StageResult(manifest=manifest, directory=final, reused=False, store=paths)


def load_stage_result(paths: StorePaths, stage: str, key: str) -> StageResult:
    """A previously completed stage output, by fingerprint."""
    manifest_path = paths.manifest(stage, key)
    _fetch(paths, manifest_path.parent)
    if not manifest_path.exists():
        raise StoreError(f"stage {stage!r} output {key} is missing from {paths.location}; rebuild the store")
    return StageResult(manifest=StageManifest.load(manifest_path), directory=manifest_path.parent, reused=True, store=paths)
