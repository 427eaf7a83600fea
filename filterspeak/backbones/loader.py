"""Image batches decoded in worker processes, so decoding overlaps with the network's forward pass.

`image_batches(paths, preprocessing, spans, workers)` yields, in order, the uint8 batch of each
span (start, stop) of `paths`: exactly the tensor `images.load_images` gives for it, whatever the
number of workers (0 = decode in the calling thread). It is a `torch.utils.data.DataLoader` whose
batch sampler is the spans, so a resumed extraction loads only its missing shards.

Workers start through a forkserver, not by forking the caller: Prefect runs tasks in threads, and
a process forked while other threads hold locks can deadlock in the child. The forkserver is one
single-threaded process, started once per process with this module (so torch and PIL) imported,
that forks every worker. Measured on the 2-core CPU machine, 2 workers, until their first batch
of 64 photos: 3.1 s for the first loader of a process (it starts the forkserver), 0.25 s for the
next ones; spawn takes 3.5 s every time (each worker imports torch again). Like spawn, each
worker imports the program's main module (multiprocessing's rule: a script must guard its work
with `if __name__ == "__main__"`); the `filterspeak` command's imports add a few seconds.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from filterspeak.backbones.images import load_image, stack_images

if TYPE_CHECKING:
    from filterspeak.backbones.registry import Preprocessing

MAX_AUTO_WORKERS = 8  # enough to feed a GPU: one core decodes about 500 to 900 photos of 224 px a second
MIN_AUTO_BATCHES = 32  # a shorter pass decodes in the main thread: starting workers costs seconds


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_workers(device: torch.device, batches: int) -> int:
    """Loader workers for a pass of `batches` batches, when the option leaves it to the machine.

    None for a short pass (their start costs more than they save). On CUDA the CPU only decodes,
    so most cores. On the CPU the forward already uses every core and decoding costs a few percent
    of it: on the 2-core machine 0, 1 and 2 workers ran SqueezeNet extraction at the same speed,
    so none below 8 cores, and one from there (a faster forward makes decoding a larger share)."""
    cpus = usable_cpus()
    if batches < MIN_AUTO_BATCHES:
        return 0
    if device.type == "cuda":
        return max(1, min(MAX_AUTO_WORKERS, cpus - 1))
    return 1 if cpus >= 8 else 0


class ImageFiles(Dataset):
    """Image files → RGB uint8 arrays (size, size, 3), decoded like `images.load_images`."""

    def __init__(self, paths: Sequence[str | Path], size: int, resize: int | None, interpolation: str = "bilinear") -> None:
        self.paths, self.size, self.resize, self.interpolation = [str(path) for path in paths], size, resize, interpolation

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        return load_image(self.paths[index], self.size, self.resize, self.interpolation)


def start_method_name() -> str:
    """The forkserver (see the module's docstring), or spawn where there is none (Windows)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _start_method() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context(start_method_name())
    if start_method_name() == "forkserver":
        # read when the forkserver starts: it imports torch and PIL once, not every worker
        context.set_forkserver_preload([__name__])
    return context


def image_batches(
    paths: Sequence[str | Path], preprocessing: Preprocessing, spans: Sequence[tuple[int, int]], workers: int, pin_memory: bool = False
) -> Iterator[torch.Tensor]:
    """The (stop - start, 3, size, size) uint8 batch of every span, in the order given.

    `pin_memory` (for CUDA) puts each batch in page-locked memory, so its copy to the device can
    be non-blocking. Close the generator (contextlib.closing) to stop the workers at once, e.g.
    when a batch fails."""
    if not spans:
        return
    loader = DataLoader(
        ImageFiles(paths, *preprocessing.loading),
        batch_sampler=[list(range(start, stop)) for start, stop in spans],
        num_workers=workers,
        collate_fn=stack_images,
        pin_memory=pin_memory,
        multiprocessing_context=_start_method() if workers else None,
        prefetch_factor=2 if workers else None,
    )
    batches = iter(loader)
    try:
        yield from batches
    finally:
        del batches  # its last reference: the workers stop now, not when a traceback lets go of this frame
