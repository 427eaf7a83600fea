"""Feature maps as extraction stores them: 8 bits per value, scaled per (image, filter).

The report draws where each filter fires and the heat maps M_a = Σ_f p(f|a) A_f(x) of images
chosen after the build (a filter's top images, a test error); running the network again for
them would cost more than the rest of the report (SqueezeNet on 2 CPU cores: ~15 images/s).
Extraction already holds every map, so it keeps them: A_f(x) quantised linearly between its own
minimum and maximum into 0..255 (a ReLU layer's maps are mostly zeros, which Parquet's
compression packs: ~20 KB per image for 512 filters at 13 × 13). Dequantised values are within
(max − min) / 510 of the network's, plenty for a picture; metrics use the network itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from filterspeak.storage.schemas import F32, I32, I64
from filterspeak.storage.vectors import vector_column, vector_matrix

LEVELS = 255
# The columns of a stored map, one row per image (the `feature_maps` table and extraction shards).
COLUMNS = (
    ("map_height", I32),
    ("map_width", I32),
    ("map_codes", pa.binary()),  # F × H × W uint8, C order
    ("map_low", pa.list_(F32)),  # per filter: the value of code 0
    ("map_high", pa.list_(F32)),  # per filter: the value of code 255
)
TABLE_COLUMNS = (("image_id", I64), *COLUMNS)


@dataclass
class QuantisedMaps:
    """A batch's maps as codes (B, F, H, W) uint8 with their (B, F) ranges."""

    codes: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def to(self, device, non_blocking: bool = False) -> QuantisedMaps:
        return QuantisedMaps(*(t.to(device, non_blocking=non_blocking) for t in (self.codes, self.low, self.high)))

    def columns(self) -> dict[str, pa.Array]:
        """The COLUMNS of one row per image."""
        batch, _filters, height, width = self.codes.shape
        codes = self.codes.contiguous().numpy()
        return {
            "map_height": pa.array(np.full(batch, height, dtype=np.int32)),
            "map_width": pa.array(np.full(batch, width, dtype=np.int32)),
            "map_codes": pa.array([row.tobytes() for row in codes], pa.binary()),
            "map_low": vector_column(self.low.numpy(), F32),
            "map_high": vector_column(self.high.numpy(), F32),
        }


def quantise(maps: torch.Tensor) -> QuantisedMaps:
    """(B, F, H, W) float maps → codes, on the maps' device."""
    low = maps.amin(dim=(2, 3))
    high = maps.amax(dim=(2, 3))
    span = (high - low).clamp_min(torch.finfo(maps.dtype).tiny)[..., None, None]
    codes = torch.round((maps - low[..., None, None]) / span * LEVELS).clamp_(0, LEVELS).to(torch.uint8)
    return QuantisedMaps(codes, low.float(), high.float())


def dequantise(table: pa.Table) -> np.ndarray:
    """Rows of COLUMNS (one image each, all of one shape) → (N, F, H, W) float32 maps."""
    if not len(table):
        return np.zeros((0, 0, 0, 0), dtype=np.float32)
    height, width = int(table["map_height"][0].as_py()), int(table["map_width"][0].as_py())
    low, high = vector_matrix(table["map_low"]), vector_matrix(table["map_high"])
    codes = np.stack([np.frombuffer(value.as_py(), dtype=np.uint8) for value in table["map_codes"]])
    codes = codes.reshape(len(table), low.shape[1], height, width).astype(np.float32)
    return low[..., None, None] + codes * ((high - low) / LEVELS)[..., None, None]
