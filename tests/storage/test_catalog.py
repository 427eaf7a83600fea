import pandas as pd
import pyarrow as pa
import pytest

from filterspeak.storage.cache import run_stage
from filterspeak.storage.catalog import is_read_only_statement, publish, query, rebuild_catalog
from filterspeak.storage.paths import StoreError, StorePaths
from filterspeak.storage.schemas import BACKBONE_LAYER, BOOL, F64, I32, I64, table

TABLES = {
    "predictions": table(
        ("image_id", I64),
        ("predicted_class_id", I64),
        ("true_class_id", I64),
        ("probability", F64),
        ("logit", F64),
        ("correct", BOOL),
        partition=BACKBONE_LAYER,
    ),
    "filter_attributes": table(("filter", I32), ("attribute_id", I64), ("probability", F64), partition=BACKBONE_LAYER),
}


def _predictions(backbone, probability):
    def compute(output):
        frame = pd.DataFrame(
            {
                "image_id": [1, 2],
                "predicted_class_id": [0, 1],
                "true_class_id": [0, 0],
                "probability": [probability, 0.5],
                "logit": [2.0, 1.0],
                "correct": [True, False],
            }
        )
        output.write("predictions", frame)

    return compute


def test_views_show_both_backbones_side_by_side(tmp_path):
    paths = StorePaths(tmp_path).ensure()
    a = run_stage(paths, "extract", {"b": "a"}, _predictions("net-a", 0.9), TABLES, {"backbone": "net-a", "layer": "features.3"})
    b = run_stage(paths, "extract", {"b": "b"}, _predictions("net-b", 0.7), TABLES, {"backbone": "net-b", "layer": "features.3"})
    publish(paths, [a])
    publish(paths, [b])
    rebuild_catalog(paths, TABLES)
    rows = query(paths, "SELECT backbone, count(*) AS n, max(probability) AS p FROM predictions GROUP BY 1 ORDER BY 1")
    assert rows.to_pylist() == [{"backbone": "net-a", "n": 2, "p": 0.9}, {"backbone": "net-b", "n": 2, "p": 0.7}]
    # tables with no output yet exist as empty views with their columns
    empty = query(paths, "SELECT * FROM filter_attributes")
    assert empty.num_rows == 0 and "probability" in empty.column_names


def test_republishing_a_partition_replaces_it(tmp_path):
    paths = StorePaths(tmp_path).ensure()
    publish(
        paths, [run_stage(paths, "extract", {"v": 1}, _predictions("net-a", 0.9), TABLES, {"backbone": "net-a", "layer": "features.3"})]
    )
    publish(
        paths, [run_stage(paths, "extract", {"v": 2}, _predictions("net-a", 0.6), TABLES, {"backbone": "net-a", "layer": "features.3"})]
    )
    rebuild_catalog(paths, TABLES)
    assert query(paths, "SELECT max(probability) AS p FROM predictions").to_pylist() == [{"p": 0.6}]


def test_write_statements_are_refused(tmp_path):
    paths = StorePaths(tmp_path).ensure()
    rebuild_catalog(paths, TABLES)
    assert is_read_only_statement("  with x as (select 1) select * from x")
    for statement in ["DROP VIEW images", "insert into images values (1)", "COPY images TO 'x.csv'"]:
        with pytest.raises(StoreError, match="read-only"):
            query(paths, statement)


def test_query_without_catalog_says_how_to_build(tmp_path):
    with pytest.raises(StoreError, match="filterspeak build"):
        query(StorePaths(tmp_path), "SELECT 1")


def test_per_filter_tables_read_one_row_per_image_and_filter_in_sql(tmp_path):
    """`filter_responses` stores a list per image; the `activations` view unnests it, filter k
    getting the k-th value of every list; with no output yet both are empty, typed views."""
    import numpy as np

    from filterspeak.storage.vectors import vector_column, vector_matrix
    from filterspeak.tasks.graph import TABLES as GRAPH_TABLES
    from filterspeak.tasks.graph import VIEWS
    from stage_runs import per_filter_table

    paths = StorePaths(tmp_path).ensure()
    rebuild_catalog(paths, GRAPH_TABLES, VIEWS)
    assert query(paths, "SELECT * FROM activations").column_names == [
        "image_id",
        "filter",
        "max_response",
        "mean_response",
        "backbone",
        "layer",
    ]
    maxima = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    stored = per_filter_table(np.array([7, 9]), {"max_response": maxima, "mean_response": maxima / 10}, pa.float32())
    assert np.array_equal(vector_matrix(stored.column("max_response")), maxima) and vector_column(None, F64, 2).null_count == 2
    result = run_stage(
        paths, "extract", {"v": 1}, lambda output: output.write("filter_responses", stored), GRAPH_TABLES, {"backbone": "n", "layer": "l"}
    )
    publish(paths, [result])
    rebuild_catalog(paths, GRAPH_TABLES, VIEWS)
    rows = query(paths, "SELECT image_id, filter, max_response, mean_response FROM activations ORDER BY image_id, filter").to_pylist()
    assert [(r["image_id"], r["filter"], r["max_response"]) for r in rows] == [
        (i, f, maxima[k, f]) for k, i in enumerate([7, 9]) for f in range(3)
    ]
    assert [r["mean_response"] for r in rows] == pytest.approx((maxima / 10).reshape(-1).tolist(), rel=1e-7)
