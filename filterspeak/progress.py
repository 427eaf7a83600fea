"""Progress of long steps: a live bar on a terminal, two plain lines anywhere else.

A bar's redraws fill a log file or a CI log with thousands of carriage-return frames; when the
output is not a terminal each step prints one line when it starts and one when it ends instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm  # bars only on a terminal (in Jupyter: start and end lines), so not tqdm.auto, which warns there without ipywidgets

T = TypeVar("T")


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def announce(message: str, stream: TextIO | None = None) -> None:
    """One line to the user whatever Prefect's log level (keeps a running bar intact)."""
    tqdm.write(message, file=stream or sys.stderr)


class Progress:
    """`with Progress(total, "extract x", unit="shard", enabled=progress) as bar: bar.update(1)`.

    enabled=False prints nothing; on a terminal it is a tqdm bar; otherwise a start line and an
    end line with the count and the seconds taken."""

    def __init__(
        self, total: int | None, description: str, unit: str = "it", enabled: bool = True, initial: int = 0, stream: TextIO | None = None
    ) -> None:
        self.total, self.description, self.unit, self.initial = total, description, unit, initial
        self.count = initial
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._bar = None
        self._started = 0.0
        self._postfix = ""
        if enabled and _is_terminal(self._stream):
            self._bar = tqdm(total=total, initial=initial, desc=description, unit=unit, leave=False, file=self._stream)

    def __enter__(self) -> Progress:
        self._started = time.perf_counter()
        if self._enabled and self._bar is None:
            done = f", {self.initial} already done" if self.initial else ""
            size = f" ({self.total} {self.unit}{done})" if self.total is not None else ""
            self._stream.write(f"{self.description}: started{size}\n")
            self._stream.flush()
        return self

    def update(self, count: int = 1) -> None:
        self.count += count
        if self._bar is not None:
            self._bar.update(count)

    def postfix(self, **values: object) -> None:
        """Latest values (`loss="0.123"`): next to the bar, or at the end of the end line."""
        self._postfix = ", ".join(f"{key}={value}" for key, value in values.items())
        if self._bar is not None:
            self._bar.set_postfix(values)

    def __exit__(self, kind, value, traceback) -> None:
        if self._bar is not None:
            self._bar.close()
            return
        if self._enabled:
            outcome = "failed" if kind is not None else "done"
            postfix = f" ({self._postfix})" if self._postfix else ""
            seconds = time.perf_counter() - self._started
            self._stream.write(f"{self.description}: {outcome}, {self.count} {self.unit} in {seconds:.1f} s{postfix}\n")
            self._stream.flush()


def iterate(items: Iterable[T], description: str, total: int | None = None, unit: str = "it", enabled: bool = True) -> Iterator[T]:
    """`for x in iterate(xs, "planted birds", len(xs)):` with a `Progress`."""
    with Progress(total, description, unit, enabled) as bar:
        for item in items:
            yield item
            bar.update(1)
