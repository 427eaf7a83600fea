"""p(a|f) on a case small enough to compute by hand, through the real SQL and estimator."""

import numpy as np
import pandas as pd
import pytest

from filterspeak.interpret.filter_pdfs import (
    attribute_prior,
    dense_matrix,
    filter_attribute_matrix,
    selectivity,
)
from filterspeak.storage.duckdb_session import parquet_views, run_sql_file
from filterspeak.storage.parquet import write_table

# Four train images, two filters, two attributes.
#   max responses  f0: 1, 2, 0, 0     f1: 0, 1, 3, 0
#   p(a|x)         x1: a0=1   x2: a0=.5 a1=.5   x3: a1=1   x4: a1=1
RESPONSES = {0: [1.0, 2.0, 0.0, 0.0], 1: [0.0, 1.0, 3.0, 0.0]}
IMAGE_ATTRIBUTES = [(1, 0, 1.0), (2, 0, 0.5), (2, 1, 0.5), (3, 1, 1.0), (4, 1, 1.0)]


@pytest.fixture
def tables(tmp_path):
    activations = pd.DataFrame(
        [(image, f, r, r / 2) for f, values in RESPONSES.items() for image, r in enumerate(values, start=1)],
        columns=["image_id", "filter", "max_response", "mean_response"],
    )
    image_attributes = pd.DataFrame(IMAGE_ATTRIBUTES, columns=["image_id", "attribute_id", "probability"])
    image_attributes["count"] = 1
    images = pd.DataFrame({"image_id": [1, 2, 3, 4, 5], "split": ["train"] * 4 + ["test"], "path": "x", "class_id": 0})
    paths = {}
    for name, frame in [("activations", activations), ("image_attributes", image_attributes), ("images", images)]:
        paths[name] = tmp_path / f"{name}.parquet"
        write_table(frame, paths[name], name)
    return paths


def _cooccurrence(tables, top_k):
    with parquet_views(tables) as connection:
        frame = run_sql_file(connection, "cooccurrence", {"response": "max", "top_k": top_k}).to_pandas()
    return dense_matrix(frame, 2, 2, "filter", "attribute_id", "cooccurrence")


def test_all_images_matches_hand_computation(tables):
    # f0: p(x|f0) = (1/3, 2/3) → a0 = 1/3 + 2/3·.5 = 2/3, a1 = 1/3
    # f1: p(x|f1) = (1/4, 3/4) over x2, x3 → a0 = 1/8, a1 = 1/8 + 3/4 = 7/8
    np.testing.assert_allclose(_cooccurrence(tables, top_k=0), [[2 / 3, 1 / 3], [1 / 8, 7 / 8]])


def test_top_k_keeps_only_the_strongest_images(tables):
    np.testing.assert_allclose(_cooccurrence(tables, top_k=1), [[0.5, 0.5], [0.0, 1.0]])


def test_lift_divides_out_the_attribute_prior(tables):
    image_attributes = pd.DataFrame(IMAGE_ATTRIBUTES, columns=["image_id", "attribute_id", "probability"])
    prior = attribute_prior(image_attributes, np.array([1, 2, 3, 4]), 2)
    np.testing.assert_allclose(prior, [1.5 / 4, 2.5 / 4])
    raw, lift = filter_attribute_matrix(_cooccurrence(tables, top_k=0), prior, "none")
    corrected, _ = filter_attribute_matrix(_cooccurrence(tables, top_k=0), prior, "lift")
    np.testing.assert_allclose(raw[0], [2 / 3, 1 / 3])
    np.testing.assert_allclose(lift[0], [(2 / 3) / 0.375, (1 / 3) / 0.625])
    # (16/9) / (16/9 + 8/15) = 10/13
    np.testing.assert_allclose(corrected[0], [10 / 13, 3 / 13])


def test_selectivity_is_one_for_a_point_mass_and_zero_for_uniform():
    values, entropy = selectivity(np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0, 0, 0, 0]]))
    np.testing.assert_allclose(values, [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(entropy, [0.0, np.log(4), 0.0], atol=1e-12)


def test_pmi_keeps_only_enriched_attributes(tables):
    image_attributes = pd.DataFrame(IMAGE_ATTRIBUTES, columns=["image_id", "attribute_id", "probability"])
    prior = attribute_prior(image_attributes, np.array([1, 2, 3, 4]), 2)
    corrected, _ = filter_attribute_matrix(_cooccurrence(tables, top_k=0), prior, "pmi")
    # f0: a0 enriched (lift 16/9 > 1), a1 depleted (lift 8/15 < 1) → all mass on a0
    np.testing.assert_allclose(corrected[0], [1.0, 0.0])
    # f1: a0 lift (1/8)/(3/8) < 1, a1 lift (7/8)/(5/8) > 1 → all mass on a1
    np.testing.assert_allclose(corrected[1], [0.0, 1.0])
