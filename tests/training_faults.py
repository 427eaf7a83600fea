"""Kill a training run right after it saved a given epoch's checkpoint (the resume tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from filterspeak.backbones import training


class Killed(Exception):
    pass


@contextmanager
def killed_after_epoch(epoch: int) -> Iterator[None]:
    """The training run inside dies once epoch `epoch`'s checkpoint is on disk; the block must die."""
    save = training._Trained.save

    def save_then_die(self, path, epochs_done, spec, loss):
        save(self, path, epochs_done, spec, loss)
        if epochs_done == epoch:
            raise Killed(f"killed after saving epoch {epochs_done}'s checkpoint")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training._Trained, "save", save_then_die)
        with pytest.raises(Killed, match=f"^killed after saving epoch {epoch}'s checkpoint$"):
            yield
