"""A small convolutional network defined here, held in memory by the API tests (an nn.Module that
is neither built in nor a torchvision model): 12 outputs, the tiny build's 12 species, so the
build uses its own GAP + linear head."""

from __future__ import annotations

import torch
from torch import nn

LAYER = "features.3"  # its last convolution: (N, 16, H/2, W/2) maps


class TinyNet(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU()
            )
            self.fc = nn.Linear(16, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))
