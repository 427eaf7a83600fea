"""The PDF stage on the hand-made case: p(a|f) per prior correction and per estimator, the
caption log-likelihood per step, filter stats, and p(a|c) from a linear head whose class c is filter c."""

import numpy as np
import pytest

from filterspeak.interpret.filter_pdfs import dense_matrix
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks import cooccurrence as cooccurrence_stage
from filterspeak.tasks import pdfs as pdfs_stage
from filterspeak.tasks.stage import Context, Inputs, run
from stage_runs import hand_made_decided

CONTEXT = Context("net", "layer", progress=False)


def _pdfs(root, correction: str, estimator: str = "counting", tolerance: float | None = None):
    paths = StorePaths(root).ensure()
    upstream = hand_made_decided(paths)
    counts = run(cooccurrence_stage.STAGE, paths, Inputs.of(*upstream), cooccurrence_stage.CooccurrenceParams("max", 0), CONTEXT)
    params = pdfs_stage.PdfParams(correction, estimator, "max", () if tolerance is None else (("em_tolerance", tolerance),))
    return run(pdfs_stage.STAGE, paths, Inputs.of(*upstream, counts), params, CONTEXT)


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


# The caption log-likelihood per explained train image (1, 2, 3; image 4 has no response) under p(a|f):
# image 1 (f0 only) says a0, image 3 (f1 only) says a1, image 2 (f0:f1 = 2:1) says each half the time.
def _log_likelihood(pdf) -> float:
    pdf = np.asarray(pdf)
    image_2 = np.array([2 / 3, 1 / 3]) @ pdf
    return (np.log(pdf[0, 0]) + 0.5 * np.log(image_2[0]) + 0.5 * np.log(image_2[1]) + np.log(pdf[1, 1])) / 3


def test_counting_records_its_caption_log_likelihood_as_one_step(tmp_path):
    result = _pdfs(tmp_path, "none")
    runs = result.read("estimator_runs")
    assert runs["iteration"].tolist() == [0]
    np.testing.assert_allclose(runs["log_likelihood"], [_log_likelihood(COUNTS)], rtol=1e-12)
    assert result.metrics["estimator"] == "counting" and result.metrics["estimator_steps"] == 0


def test_em_climbs_from_the_count_to_the_maximum_likelihood_estimate(tmp_path):
    # The likelihood is concave in p(a|f) and its maximum is the identity: raising p(a0|f0) gains
    # more on image 1 than it costs on image 2 (derivative +1/2 at 1), lowering p(a0|f1) likewise (-1/4 at 0).
    result = _pdfs(tmp_path, "none", "em", 1e-9)
    pdf = dense_matrix(result.read("filter_attributes"), 2, 2, "filter", "attribute_id", "probability")
    np.testing.assert_allclose(pdf, np.eye(2), atol=1e-3)
    runs = result.read("estimator_runs").sort_values("iteration")
    likelihoods = runs["log_likelihood"].to_numpy()
    np.testing.assert_allclose(likelihoods[0], _log_likelihood(COUNTS), rtol=1e-12)  # EM starts from the count
    assert np.all(np.diff(likelihoods) >= 0) and len(likelihoods) > 2
    np.testing.assert_allclose(likelihoods[-1], _log_likelihood(np.eye(2)), atol=1e-4)
    np.testing.assert_allclose(runs["gain"].iloc[1:], np.diff(likelihoods), rtol=1e-12)
    assert result.metrics["estimator_steps"] == len(likelihoods) - 1
    assert result.metrics["estimator_converged"] is True  # the tolerance stopped it, not the bound
    np.testing.assert_allclose(result.metrics["caption_log_likelihood"], likelihoods[-1])


def test_the_tolerance_is_part_of_the_em_key_only(tmp_path):
    counting = pdfs_stage.params_from(_options(estimator="counting", em_tolerance=1e-3))
    assert counting == pdfs_stage.params_from(_options(estimator="counting", em_tolerance=1e-6))
    assert pdfs_stage.params_from(_options(estimator="em", em_tolerance=1e-3)) != pdfs_stage.params_from(
        _options(estimator="em", em_tolerance=1e-6)
    )


def _options(**overrides):
    from types import SimpleNamespace

    return SimpleNamespace(prior_correction="pmi", response="max", **overrides)
