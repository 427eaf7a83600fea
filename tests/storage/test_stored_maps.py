"""A feature map's stored columns read back as the same codes and ranges, batch or table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from filterspeak.storage.stored_maps import COLUMNS, map_arrays, map_columns


def test_the_columns_read_back_as_the_codes_and_ranges_they_store():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(3, 5, 7, 6), dtype=np.uint8)
    low, high = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=(3, 5)).astype(np.float32)
    columns = map_columns(codes, low, high)
    assert list(columns) == [name for name, _ in COLUMNS]
    for rows in (pa.table(columns), pa.record_batch(list(columns.values()), names=list(columns))):
        back = map_arrays(rows)
        for stored, original in zip(back, (codes, low, high)):
            assert stored.dtype == original.dtype and np.array_equal(stored, original)


def test_no_rows_read_back_as_empty_arrays():
    codes, low, high = map_arrays(pa.table(map_columns(np.zeros((0, 2, 3, 3), np.uint8), np.zeros((0, 2)), np.zeros((0, 2)))))
    assert codes.shape == (0, 0, 0, 0) and low.shape == high.shape == (0, 0)
