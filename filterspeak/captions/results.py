"""What the caption parser returns: :class:`Phrase` per attribute mention, :class:`ParseFailure`
per caption it could not (fully) parse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["ParseFailure", "Phrase"]


@dataclass(frozen=True)
class Phrase:
    """One attribute mention: ``modifier`` + ``noun`` (both canonical), maybe negated."""

    modifier: str
    noun: str
    negated: bool = False

    @property
    def text(self) -> str:
        return f"{self.modifier} {self.noun}"

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return ("not " if self.negated else "") + self.text


class ParseFailure(NamedTuple):
    """A caption that could not be parsed, or not all of it: its position in the input and why.

    A plain ``(index, reason)`` pair, so it unpacks as one and stores as two columns.
    """

    index: int
    reason: str
