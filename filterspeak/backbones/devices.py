"""`--device auto|cpu|cuda` → a torch.device, with a clear error when CUDA is asked for but absent."""

from __future__ import annotations

import torch


def resolve_device(choice: str = "auto") -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but no CUDA device is available; use --device cpu or auto")
    if choice not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {choice!r}: use auto, cpu or cuda")
    return torch.device(choice)
