"""One build at a time per store: an exclusive advisory lock on `<store>/.build.lock`."""

from __future__ import annotations

import fcntl
import os
import time
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


def running_build(paths: StorePaths) -> str | None:
    """Who holds the build lock ("pid 123"), or None when no build is running. Only reads, so
    it works on a read-only store."""
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
