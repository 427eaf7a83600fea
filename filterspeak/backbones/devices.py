"""`--device auto|cpu|cuda` → a torch.device, with a clear error when CUDA is asked for but absent.

On CUDA, TF32 is switched off: tables must not depend on where they were computed, and TF32
convolutions differ from the CPU's float32 by ~1e-3 relative.
"""

from __future__ import annotations

import torch

from filterspeak.errors import OptionError

DEVICES = ("auto", "cpu", "cuda")


def _full_precision_cuda() -> torch.device:
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device("cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    if choice == "auto":
        return _full_precision_cuda() if torch.cuda.is_available() else torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise OptionError("--device cuda was requested but no CUDA device is available; use --device cpu or auto")
    if choice not in DEVICES:
        raise OptionError(f"unknown device {choice!r}: use {', '.join(DEVICES)}")
    return _full_precision_cuda() if choice == "cuda" else torch.device("cpu")
