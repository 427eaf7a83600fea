"""The PDF stage on the hand-made case: p(a|f) per prior correction, filter stats, and p(a|c)
from a linear head whose class c is filter c."""

import numpy as np
import pytest

from filterspeak.interpret.filter_pdfs import dense_matrix
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks import count_cooccurrence, estimate_pdfs
from filterspeak.tasks.stage import Context, Inputs, run
from stage_runs import hand_made_decided

CONTEXT = Context("net", "layer", progress=False)


def _pdfs(root, correction: str):
    paths = StorePaths(root).ensure()
    upstream = hand_made_decided(paths)
    counts = run(count_cooccurrence.STAGE, paths, Inputs.of(*upstream), count_cooccurrence.CooccurrenceParams("max", 0), CONTEXT)
    return run(estimate_pdfs.STAGE, paths, Inputs.of(*upstream, counts), estimate_pdfs.PdfParams(correction), CONTEXT)


def test_without_correction_p_a_given_f_is_the_normalised_cooccurrence(tmp_path):
    result = _pdfs(tmp_path, "none")
    pdf = dense_matrix(result.read("filter_attributes"), 2, 2, "filter", "attribute_id", "probability")
    np.testing.assert_allclose(pdf, [[2 / 3, 1 / 3], [1 / 8, 7 / 8]], rtol=1e-12)
    stats = result.read("filter_stats").sort_values("filter")
    assert stats["top_attribute_id"].tolist() == [0, 1]
    np.testing.assert_allclose(stats["max_response"], [2.0, 3.0])  # over the train images
    np.testing.assert_allclose(stats["mean_response"], [0.375, 0.5])  # the mean of the (halved) responses
    entropy = -np.sum(pdf * np.log(pdf), axis=1)
    np.testing.assert_allclose(stats["entropy"], entropy, rtol=1e-12)
    np.testing.assert_allclose(stats["selectivity"], 1 - entropy / np.log(2), rtol=1e-12)


def test_class_attributes_follow_the_head_weights(tmp_path):
    result = _pdfs(tmp_path, "none")
    classes = dense_matrix(result.read("class_attributes"), 2, 2, "class_id", "attribute_id", "probability")
    # W = identity: p(f|c) puts all mass on filter c, so p(a|c) = p(a|f=c)
    np.testing.assert_allclose(classes, [[2 / 3, 1 / 3], [1 / 8, 7 / 8]], rtol=1e-12)
    ranks = result.read("class_attributes").set_index(["class_id", "attribute_id"])["rank"]
    assert ranks.to_dict() == {(0, 0): 1, (0, 1): 2, (1, 1): 1, (1, 0): 2}


PRIORS = np.array([0.375, 0.625])  # p(a) of the hand-made case (stage_runs.hand_made_decided)
COUNTS = np.array([[2 / 3, 1 / 3], [1 / 8, 7 / 8]])
LIFT = COUNTS / PRIORS  # f0: (16/9, 8/15), f1: (1/3, 7/5)


@pytest.mark.parametrize(
    "correction, expected",
    [
        ("lift", LIFT / LIFT.sum(axis=1, keepdims=True)),  # f0: 10/13, 3/13
        ("pmi", [[1.0, 0.0], [0.0, 1.0]]),  # only the attribute enriched above its prior keeps mass
    ],
)
def test_prior_corrections(tmp_path, correction, expected):
    pdf = dense_matrix(_pdfs(tmp_path, correction).read("filter_attributes"), 2, 2, "filter", "attribute_id", "probability")
    np.testing.assert_allclose(pdf, expected, rtol=1e-12)
