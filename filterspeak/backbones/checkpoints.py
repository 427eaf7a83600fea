"""Training checkpoints, so a killed training run resumes where it stopped (the backbone stage
keeps them in its work area).

A checkpoint is one file of tensors and plain values (model, optimiser, schedule and random
generator states after a finished epoch), written atomically (temp + rename) and read back with
`torch.load(weights_only=True)`: nothing in it can run code. A missing, truncated or foreign
file reads as None and training starts from the beginning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from filterspeak.errors import FilterSpeakError
from filterspeak.files import atomic_write


class CheckpointError(FilterSpeakError, RuntimeError):
    """A readable checkpoint that does not fit the network being trained (a stale work area)."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda stream: torch.save(state, stream))


# What torch.load(weights_only=True) raises on a damaged file (tried on torch 2.x by truncating a
# checkpoint at every length and flipping bytes in it): an empty file EOFError; a cut-off zip
# RuntimeError ("PytorchStreamReader failed ...") or OSError ("Invalid argument"); a foreign or
# garbled pickle pickle.UnpicklingError (the weights-only unpickler refuses it), KeyError or
# IndexError (LookupError), ValueError or UnicodeDecodeError (a ValueError). Not caught: TypeError,
# AttributeError, AssertionError, ... - what a bug looks like; random byte flips inside the pickle
# give them too (under 1% of flips), but the file is written atomically, so a torn write cannot.
_UNREADABLE = (EOFError, OSError, RuntimeError, torch.serialization.pickle.UnpicklingError, LookupError, ValueError)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none or it cannot be read safely."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except _UNREADABLE:
        return None
    return state if isinstance(state, dict) else None
