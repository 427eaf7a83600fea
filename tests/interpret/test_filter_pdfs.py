"""p(a|f) on a case small enough to compute by hand, through the real SQL and estimator."""

import numpy as np
import pandas as pd

from filterspeak.interpret.filter_pdfs import attribute_prior, filter_attribute_matrix, selectivity
from stage_runs import hand_made_cooccurrence as _cooccurrence  # the real SQL on the hand-made case (tests/tasks)

IMAGE_ATTRIBUTES = [(1, 0, 1.0), (2, 0, 0.5), (2, 1, 0.5), (3, 1, 1.0), (4, 1, 1.0)]  # as in stage_runs.HAND_MADE


def test_lift_divides_out_the_attribute_prior(tmp_path):
    tables = tmp_path
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


def test_pmi_keeps_only_enriched_attributes(tmp_path):
    tables = tmp_path
    image_attributes = pd.DataFrame(IMAGE_ATTRIBUTES, columns=["image_id", "attribute_id", "probability"])
    prior = attribute_prior(image_attributes, np.array([1, 2, 3, 4]), 2)
    corrected, _ = filter_attribute_matrix(_cooccurrence(tables, top_k=0), prior, "pmi")
    # f0: a0 enriched (lift 16/9 > 1), a1 depleted (lift 8/15 < 1) → all mass on a0
    np.testing.assert_allclose(corrected[0], [1.0, 0.0])
    # f1: a0 lift (1/8)/(3/8) < 1, a1 lift (7/8)/(5/8) > 1 → all mass on a1
    np.testing.assert_allclose(corrected[1], [0.0, 1.0])
