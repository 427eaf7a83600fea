"""The one base class for errors the user can fix (a wrong option, a missing file, an unwritable store).

The CLI prints such an error as one line and exits with status 2; anything else is a bug and keeps
its traceback (exit status 1). Raise a subclass of `FilterSpeakError` only when the message tells
the user what to do; never wrap an unexpected exception in one.
"""

from __future__ import annotations


class FilterSpeakError(Exception):
    """A user error; its message is one line for the user."""


class OptionError(FilterSpeakError, ValueError):
    """An option value that is not allowed (an unknown choice, a negative count)."""


def at_least_one(flag: str, value: int) -> int:
    """`value` of a count option such as --top, or an OptionError naming `flag`."""
    if value < 1:
        raise OptionError(f"{flag} must be at least 1, got {value}")
    return value
