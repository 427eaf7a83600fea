"""Per-filter vectors in Parquet: one row per image, one list of F values per column.

Tables with a value per (image, filter) are stored this way (`filter_responses`,
`filter_contributions`, extraction shards): a million images × 2,048 filters is a million rows
that read back as one (N, F) matrix without a pivot, and stream in row order. SQL sees them one
row per (image, filter) through the catalog views `activations` and `contributions`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def vector_column(matrix: np.ndarray | None, value_type: pa.DataType, rows: int | None = None) -> pa.Array:
    """(N, F) matrix → a list column of N lists of F values; None → `rows` nulls."""
    if matrix is None:
        return pa.nulls(rows or 0, pa.list_(value_type))
    count, width = matrix.shape
    offsets = pa.array(np.arange(0, count * width + 1, width, dtype=np.int32))
    values = np.ascontiguousarray(matrix, dtype=value_type.to_pandas_dtype()).reshape(-1)
    return pa.ListArray.from_arrays(offsets, pa.array(values, type=value_type))


def vector_matrix(column: pa.Array | pa.ChunkedArray, dtype=None) -> np.ndarray | None:
    """Inverse of `vector_column`: (N, F) matrix, or None when every row is null."""
    if column.null_count == len(column) and len(column):
        return None
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    values = array.flatten().to_numpy(zero_copy_only=False)
    matrix = values.reshape(len(array), -1) if len(array) else values.reshape(0, 0)
    return matrix if dtype is None else matrix.astype(dtype, copy=False)
