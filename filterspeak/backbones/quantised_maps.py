"""Feature maps at 8 bits per value, scaled per (image, filter): how extraction keeps every map.

The report draws where each filter fires and the heat maps M_a = Σ_f p(f|a) A_f(x) of images
chosen after the build (a filter's top images, a test error); running the network again for
them would cost more than the rest of the report (SqueezeNet on 2 CPU cores: ~15 images/s).
Extraction already holds every map, so it keeps them: A_f(x) quantised linearly between its own
minimum and maximum into 0..255 (a ReLU layer's maps are mostly zeros, which Parquet's
compression packs: ~20 KB per image for 512 filters at 13 × 13). Dequantised values are within
(max − min) / 510 of the network's, plenty for a picture; metrics use the network itself.
The columns they are stored in are storage's (filterspeak.storage.stored_maps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

LEVELS = 255


@dataclass
class QuantisedMaps:
    """A batch's maps as codes (B, F, H, W) uint8 with their (B, F) ranges."""

    codes: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def to(self, device, non_blocking: bool = False) -> QuantisedMaps:
        return QuantisedMaps(*(t.to(device, non_blocking=non_blocking) for t in (self.codes, self.low, self.high)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(codes, low, high) as NumPy arrays (the maps on the CPU): what `dequantise` and the stored columns take."""
        return self.codes.contiguous().numpy(), self.low.numpy(), self.high.numpy()


def quantise(maps: torch.Tensor) -> QuantisedMaps:
    """(B, F, H, W) float maps → codes, on the maps' device."""
    low = maps.amin(dim=(2, 3))
    high = maps.amax(dim=(2, 3))
    span = (high - low).clamp_min(torch.finfo(maps.dtype).tiny)[..., None, None]
    codes = torch.round((maps - low[..., None, None]) / span * LEVELS).clamp_(0, LEVELS).to(torch.uint8)
    return QuantisedMaps(codes, low.float(), high.float())


def dequantise(codes: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(N, F, H, W) uint8 codes with their (N, F) float32 ranges → (N, F, H, W) float32 maps."""
    codes = codes.astype(np.float32)
    return low[..., None, None] + codes * ((high - low) / LEVELS)[..., None, None]
