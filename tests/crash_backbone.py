"""A user backbone (`crash_backbone:build`) for the crash-safety tests: a tiny fixed-seed CNN
whose batch forwards can be slowed down or made to fail, so that "killed during extraction"
is deterministic without any test hook in the product.

CRASH_BACKBONE_SLEEP=seconds  sleep that long in every forward of more than one image
CRASH_BACKBONE_FAIL_AT=n      raise on the n-th such forward of this process (1-based)

Layers: "2" (6 filters, gradient × activation: no linear head reads it) and "4" (8 filters,
GAP + linear head over 12 classes: exact decomposition).
"""

from __future__ import annotations

import os
import time

import torch
from torch import nn

forwards = 0  # batch forwards run by this process


class Fault(RuntimeError):
    pass


class _Pace(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        global forwards
        if x.shape[0] > 1:  # the backbone stage's size probe runs on one image
            forwards += 1
            time.sleep(float(os.environ.get("CRASH_BACKBONE_SLEEP", "0")))
            if forwards == int(os.environ.get("CRASH_BACKBONE_FAIL_AT", "0")):
                raise Fault(f"injected failure on batch forward {forwards}")
        return x


def build() -> nn.Module:
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(
        _Pace(),
        nn.Conv2d(3, 6, 7, stride=4),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 12),
    )
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return model.eval()
