"""A store on object storage (`s3://bucket/prefix`, or any fsspec URL), kept in step with a local mirror.

The bucket is the store; the mirror (`$FILTERSPEAK_CACHE/<hash of the URL>`, default
`~/.cache/filterspeak/stores/...`) is a read-through copy of what this machine has read or written.
Stage outputs are content-addressed and never change once stored, so a mirrored output is never
stale; the few mutable files (build records, catalog pointers, the catalog) are pulled before they
are read and pushed after they are written (`StorePaths.pull` / `push`).

Atomicity without rename: a stage output's files are uploaded first and its manifest last, and a
reader counts an output only when its manifest is there and every file it lists is too, so a killed
upload is invisible (and simply done again). Credentials, endpoint and region come from the standard
AWS settings (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_PROFILE, ~/.aws),
read by s3fs/botocore themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from filterspeak.errors import FilterSpeakError

CACHE_ENV = "FILTERSPEAK_CACHE"


def is_remote(store: str | os.PathLike | None) -> bool:
    """A URL with a scheme other than file:// (s3://, gs://, memory://): a store on object storage."""
    text = str(store or "")
    return "://" in text and not text.startswith("file://")


def mirror_root() -> Path:
    """Where this machine keeps the local copies of object-storage stores."""
    chosen = os.environ.get(CACHE_ENV)
    return Path(chosen).expanduser().resolve() if chosen else Path.home() / ".cache" / "filterspeak" / "stores"


def _filesystem(protocol: str) -> Any:
    """One filesystem per protocol and set of AWS_* settings (s3fs reads them, and profiles, itself)."""
    return _filesystem_for(protocol, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))


@cache
def _filesystem_for(protocol: str, _settings: tuple) -> Any:
    import fsspec

    # no listings cache: other machines write to the store too
    return fsspec.filesystem(protocol, use_listings_cache=False, skip_instance_cache=True)


class RemoteStoreError(FilterSpeakError, RuntimeError):
    """An object store that cannot be reached, read or written; the message is user-facing."""


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


@dataclass(frozen=True)
class RemoteStore:
    url: str  # scheme://bucket/prefix, no trailing slash

    @classmethod
    def of(cls, url: str | os.PathLike) -> RemoteStore:
        return cls(str(url).rstrip("/"))

    @property
    def protocol(self) -> str:
        return self.url.split("://", 1)[0]

    @property
    def fs(self) -> Any:
        return _filesystem(self.protocol)

    @property
    def bucket(self) -> str:
        return self.url.split("://", 1)[1].split("/", 1)[0]

    def mirror(self) -> Path:
        """This store's local copy on this machine."""
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return mirror_root() / f"{self.bucket}-{digest}"

    def key(self, relative: str | os.PathLike) -> str:
        """The filesystem path (bucket/prefix/relative) of a path relative to the store."""
        inner = self.url.split("://", 1)[1]
        relative = str(relative).strip("/")
        return f"{inner}/{relative}" if relative else inner

    def uri(self, relative: str | os.PathLike) -> str:
        return f"{self.protocol}://{self.key(relative)}"

    # ---- checks ------------------------------------------------------------------------------

    def check(self, writable: bool) -> None:
        """Raise a one-line RemoteStoreError unless the bucket is reachable with these credentials
        (and, when `writable`, accepts a write). Nothing is left behind."""
        try:
            self.fs.ls(self.bucket)  # an unknown bucket raises FileNotFoundError, bad credentials PermissionError
            if writable:
                probe = f".probe-{os.getpid()}"
                self.fs.pipe_file(self.key(probe), b"")
                self.fs.rm_file(self.key(probe))
        except RemoteStoreError:
            raise
        except FileNotFoundError:
            raise RemoteStoreError(f"store {self.url}: bucket {self.bucket!r} does not exist (create it first)") from None
        except PermissionError as error:
            raise RemoteStoreError(f"store {self.url}: access denied ({_one_line(error)}); check the AWS credentials") from None
        except OSError as error:
            raise RemoteStoreError(
                f"store {self.url}: cannot reach it ({_one_line(error)}); check AWS_ENDPOINT_URL and the network"
            ) from None
        except Exception as error:  # botocore's NoCredentialsError, EndpointConnectionError, ... carry no common base
            hint = "; check AWS_ENDPOINT_URL and the network" if "Connect" in type(error).__name__ else ""
            raise RemoteStoreError(f"store {self.url}: {type(error).__name__}: {_one_line(error)}{hint}") from None

    # ---- small objects -----------------------------------------------------------------------

    def read_bytes(self, relative: str) -> bytes | None:
        try:
            return self.fs.cat_file(self.key(relative))
        except FileNotFoundError:
            return None

    def write_bytes(self, relative: str, data: bytes) -> None:
        self.fs.pipe_file(self.key(relative), data)  # one PUT: readers see the old object or the new one

    def create(self, relative: str, data: bytes) -> bool:
        """Write only if nothing is there (a conditional PUT); False when something already was."""
        try:
            self.fs.pipe_file(self.key(relative), data, mode="create")
        except FileExistsError:
            return False
        return True

    def remove(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.key(relative))

    def size(self, relative: str) -> int | None:
        try:
            return int(self.fs.size(self.key(relative)))
        except FileNotFoundError:
            return None

    # ---- files and folders -------------------------------------------------------------------

    def files(self, relative: str) -> list[str]:
        """Every file under a folder, as paths relative to that folder (sorted)."""
        base = self.key(relative)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        return sorted(path[len(base) + 1 :] for path in found if path.startswith(base + "/"))

    def upload(self, local: Path, relative: str) -> None:
        self.fs.put_file(str(local), self.key(relative))

    def download(self, relative: str, local: Path) -> bool:
        """Copy one object to `local` atomically (temp + rename); False when it does not exist."""
        local.parent.mkdir(parents=True, exist_ok=True)
        temporary = local.with_name(f".{local.name}.{os.getpid()}.download")
        try:
            self.fs.get_file(self.key(relative), str(temporary))
        except FileNotFoundError:
            temporary.unlink(missing_ok=True)
            return False
        os.replace(temporary, local)
        return True

    def upload_folder(self, local: Path, relative: str, last: str | None = None) -> None:
        """Every file of `local` to `relative`; `last` (a manifest) goes after all the others, so its
        presence means the rest is there."""
        members = sorted(p for p in local.rglob("*") if p.is_file())
        ordered = [p for p in members if p.relative_to(local).as_posix() != last]
        ordered += [local / last] if last and (local / last).is_file() else []
        if ordered[:-1]:
            self.fs.put([str(p) for p in ordered[:-1]], [self.key(f"{relative}/{p.relative_to(local).as_posix()}") for p in ordered[:-1]])
        if ordered:
            self.upload(ordered[-1], f"{relative}/{ordered[-1].relative_to(local).as_posix()}")

    def download_files(self, relatives: list[str], targets: list[Path]) -> None:
        """Several objects at once (concurrent requests), each appearing at its target only once complete."""
        if not relatives:
            return
        temporaries = [target.with_name(f".{target.name}.{os.getpid()}.download") for target in targets]
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get([self.key(relative) for relative in relatives], [str(t) for t in temporaries])
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)

    def download_folder(self, relative: str, local: Path, members: list[str]) -> None:
        """`members` (paths relative to the folder) into `local`, which appears only once complete."""
        partial = local.with_name(f".{local.name}.{os.getpid()}.download")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            sources = [self.key(f"{relative}/{member}") for member in members]
            targets = [str(partial / member) for member in members]
            for target in targets:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            if sources:
                self.fs.get(sources, targets)
            if local.exists():  # another process of this machine fetched it meanwhile: same content
                shutil.rmtree(partial, ignore_errors=True)
                return
            os.rename(partial, local)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    def remove_folder(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.key(relative), recursive=True)
