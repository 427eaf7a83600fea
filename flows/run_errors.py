"""While the CLI runs a flow it reports a failure itself: one line for a user error (a
`FilterSpeakError`: a wrong option, a bad file, an unwritable store), a Python traceback, once,
for anything else (the exception propagates out of `main`). Prefect's console
copy of the same failure (a traceback per task and again for the flow) is held back so that a
user error reads as one line; Prefect's API log handler, and so the run's page in the UI, still
receives every record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class _RunFailureFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and record.name.startswith(_RUN_LOGGERS))


@contextmanager
def failures_reported_by_cli() -> Iterator[None]:
    """Hold back run-failure records from Prefect's console handlers for the duration."""
    from prefect.logging.handlers import PrefectConsoleHandler

    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    quiet = _RunFailureFilter()
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
