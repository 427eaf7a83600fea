"""One build at a time per store: an exclusive advisory lock on `<store>/.build.lock`, or, for a store
on object storage, a lease object there.

The lease is created with a conditional write (it fails when one exists), names its holder and
expires unless the holder renews it; a build killed without releasing it holds the store for at
most LEASE_SECONDS. Taking over an expired lease deletes it and creates a new one; two builds that
do so within the same instant could both succeed (object stores offer no compare-and-delete), which
needs a build killed and two more started within one renewal period.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from filterspeak.storage.paths import StoreError, StorePaths


def _lock_soon(handle) -> None:
    """The exclusive lock, allowing a moment for a reader's brief probe (`running_build`) to end."""
    for attempt in range(3):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == 2:
                raise
            time.sleep(0.05)


LEASE_SECONDS = 60.0
_LEASE = ".build.lock"


def _lease(paths: StorePaths) -> dict | None:
    """The current lease on a store on object storage, or None when there is none or it expired."""
    raw = paths.remote.read_bytes(_LEASE)
    try:
        lease = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return lease if isinstance(lease, dict) and float(lease.get("expires", 0)) > time.time() else None


def running_build(paths: StorePaths) -> str | None:
    """Who holds the build lock ("pid 123"), or None when no build is running. Only reads, so
    it works on a read-only store."""
    if paths.remote is not None:
        lease = _lease(paths)
        return str(lease["holder"]) if lease else None
    try:
        handle = open(paths.lock)  # noqa: SIM115 - closed by the `with handle` below, after the OSError check
    except OSError:
        return None  # no lock file: no build has ever run here
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


@contextmanager
def build_lock(paths: StorePaths, wait: bool = True, timeout: float | None = None, notify: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the store's build lock; waits (telling the user once) or raises StoreError."""
    paths.ensure()
    if paths.remote is not None:
        with _held_lease(paths, wait, timeout, notify):
            yield
        return
    handle = open(paths.lock, "a+")  # noqa: SIM115 - held for the whole build, closed in the finally below
    try:
        try:
            _lock_soon(handle)
        except BlockingIOError:
            handle.seek(0)  # "a+" starts at the end
            holder = handle.read().strip() or "another process"
            if not wait:
                raise StoreError(f"another build holds the store lock {paths.lock} ({holder}); try again when it ends") from None
            notify(f"waiting for another build to finish on {paths.root} ({holder}) ...")
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() > deadline:
                        raise StoreError(f"timed out waiting for the store lock {paths.lock}") from None
                    time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


@contextmanager
def _held_lease(paths: StorePaths, wait: bool, timeout: float | None, notify: Callable[[str], None]) -> Iterator[None]:
    """The lease on a store on object storage, renewed in a thread while held, removed at the end."""
    token, holder = uuid.uuid4().hex, f"pid {os.getpid()} on {socket.gethostname()}"

    def body() -> bytes:
        return json.dumps({"holder": holder, "token": token, "expires": time.time() + LEASE_SECONDS}).encode()

    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while not paths.remote.create(_LEASE, body()):
        current = _lease(paths)
        if current is None:  # expired (its build was killed) or released meanwhile: take it over
            paths.remote.remove(_LEASE)
            continue
        if not wait:
            raise StoreError(f"another build holds the store lock {paths.remote.uri(_LEASE)} ({current['holder']}); try again when it ends")
        if not told:
            notify(f"waiting for another build to finish on {paths.location} ({current['holder']}) ...")
            told = True
        if deadline is not None and time.monotonic() > deadline:
            raise StoreError(f"timed out waiting for the store lock {paths.remote.uri(_LEASE)}")
        time.sleep(0.5)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_SECONDS / 3):
            raw = paths.remote.read_bytes(_LEASE)
            if raw is None or json.loads(raw).get("token") != token:
                return  # lost (expired and taken over): nothing of ours to renew
            paths.remote.write_bytes(_LEASE, body())

    renewer = threading.Thread(target=renew, name="filterspeak-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        raw = paths.remote.read_bytes(_LEASE)
        if raw is not None and json.loads(raw).get("token") == token:
            paths.remote.remove(_LEASE)
