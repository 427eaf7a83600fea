"""The columns a feature map is stored in: one row per image (the `feature_maps` table and
extraction's shards), its maps as 8-bit codes with each filter's range
(filterspeak.backbones.quantised_maps makes and reads the codes)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from filterspeak.storage.schemas import F32, I32, I64
from filterspeak.storage.vectors import vector_column, vector_matrix

COLUMNS = (
    ("map_height", I32),
    ("map_width", I32),
    ("map_codes", pa.binary()),  # F × H × W uint8, C order
    ("map_low", pa.list_(F32)),  # per filter: the value of code 0
    ("map_high", pa.list_(F32)),  # per filter: the value of code 255
)
TABLE_COLUMNS = (("image_id", I64), *COLUMNS)


def map_columns(codes: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, pa.Array]:
    """(B, F, H, W) uint8 codes (C order) with their (B, F) ranges → the COLUMNS of one row per image."""
    batch, _filters, height, width = codes.shape
    return {
        "map_height": pa.array(np.full(batch, height, dtype=np.int32)),
        "map_width": pa.array(np.full(batch, width, dtype=np.int32)),
        "map_codes": pa.array([row.tobytes() for row in codes], pa.binary()),
        "map_low": vector_column(low, F32),
        "map_high": vector_column(high, F32),
    }


def map_arrays(rows: pa.Table | pa.RecordBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `map_columns` for rows of one map shape: (N, F, H, W) uint8 codes, (N, F) low and high."""
    if not len(rows):
        return np.zeros((0, 0, 0, 0), dtype=np.uint8), np.zeros((0, 0), dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
    height, width = int(rows["map_height"][0].as_py()), int(rows["map_width"][0].as_py())
    low, high = vector_matrix(rows["map_low"]), vector_matrix(rows["map_high"])
    codes = np.stack([np.frombuffer(value.as_py(), dtype=np.uint8) for value in rows["map_codes"]])
    return codes.reshape(len(rows), low.shape[1], height, width), low, high
