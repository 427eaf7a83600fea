"""The one Parquet writer, whole or piece by piece: schema enforced, atomic, one row group per piece."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filterspeak.storage.parquet import TableWriter, read_batches, write_table
from filterspeak.storage.vectors import vector_column, vector_matrix

SCHEMA = pa.schema([("image_id", pa.int64()), ("max_response", pa.list_(pa.float32()))])


def _piece(start: int, count: int) -> pa.Table:
    values = np.arange(start * 3, (start + count) * 3, dtype=np.float32).reshape(count, 3)
    return pa.table({"image_id": pa.array(range(start, start + count), pa.int64()), "max_response": vector_column(values, pa.float32())})


def test_pieces_stream_to_one_file_read_back_in_order(tmp_path):
    path = tmp_path / "t" / "data.parquet"
    with TableWriter(path, SCHEMA, "filter_responses") as writer:
        for start in (0, 5, 9):
            writer.write(_piece(start, {0: 5, 5: 4, 9: 6}[start]))
        assert not path.exists()  # published only when closed
    assert writer.rows == 15 and pq.ParquetFile(path).metadata.num_row_groups == 3
    batches = list(read_batches(path, rows=4))
    assert [b.num_rows for b in batches] == [4, 4, 4, 3]
    matrix = np.concatenate([vector_matrix(b.column(1)) for b in batches])
    assert np.array_equal(matrix, np.arange(45, dtype=np.float32).reshape(15, 3))


def test_a_failure_inside_the_block_leaves_nothing(tmp_path):
    path = tmp_path / "data.parquet"
    with pytest.raises(RuntimeError), TableWriter(path, SCHEMA) as writer:
        writer.write(_piece(0, 2))
        raise RuntimeError("killed mid-table")
    assert list(tmp_path.iterdir()) == []


def test_a_piece_missing_a_column_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"table 'filter_responses' is missing columns \['max_response'\]"):
        write_table(pd.DataFrame({"image_id": [1]}), tmp_path / "data.parquet", SCHEMA, "filter_responses")
