"""EM on p(a|f) on generated captions: it recovers a planted p(a|f) better than counting, never
lowers the caption likelihood, stops at its tolerance, and gives the same bits on every run."""

import numpy as np
import pytest
from scipy import sparse

from filterspeak.interpret import estimators
from filterspeak.interpret.decomposition import positive_shares

FILTERS, ATTRIBUTES, IMAGES = 6, 8, 3000


def _planted(seed: int = 0):
    """p(f|x) from sparse random responses, captions drawn from p(a|x) = Σ_f p(a|f) p(f|x) with a
    planted p(a|f) (each filter mostly one attribute), and the counting estimate Σ_x p(f|x) n(x, a)."""
    rng = np.random.default_rng(seed)
    truth = np.full((FILTERS, ATTRIBUTES), 0.02)
    truth[np.arange(FILTERS), np.arange(FILTERS)] = 1.0
    truth /= truth.sum(axis=1, keepdims=True)
    responses = rng.gamma(0.5, size=(IMAGES, FILTERS)) * (rng.random((IMAGES, FILTERS)) < 0.5)
    totals = responses.sum(axis=1, keepdims=True)
    shares = np.divide(responses, totals, out=np.zeros_like(responses), where=totals > 0)
    words = np.zeros((IMAGES, ATTRIBUTES))
    for image in np.flatnonzero(totals[:, 0] > 0):
        drawn = rng.choice(ATTRIBUTES, size=5, p=shares[image] @ truth)
        np.add.at(words[image], drawn, 1 / 5)
    counts = sparse.csr_matrix(words)

    def chunks(size: int = 700):
        for start in range(0, IMAGES, size):
            yield shares[start : start + size], counts[start : start + size]

    return truth, shares.T @ words, chunks


def test_em_recovers_the_planted_distributions_better_than_counting():
    truth, counted, chunks = _planted()
    run = estimators.fit_em(counted, chunks, tolerance=1e-6)
    counting = counted / counted.sum(axis=1, keepdims=True)
    counting_error, em_error = np.abs(counting - truth).sum(axis=1).mean(), np.abs(run.pdf - truth).sum(axis=1).mean()
    print(f"L1 per filter: counting {counting_error:.3f}, EM {em_error:.3f} after {len(run.log_likelihoods) - 1} steps")
    assert run.converged
    assert em_error < 0.5 * counting_error
    assert (run.pdf.argmax(axis=1) == np.arange(FILTERS)).all()
    np.testing.assert_allclose(run.pdf.sum(axis=1), 1.0)


def test_each_em_step_raises_the_caption_likelihood_until_the_tolerance_stops_it():
    _, counted, chunks = _planted(1)
    run = estimators.fit_em(counted, chunks, tolerance=1e-5)
    gains = np.diff(run.log_likelihoods)
    assert len(gains) >= 2 and (gains[:-1] >= 0).all() and (gains[:-1] >= 1e-5).all()
    assert gains[-1] < 1e-5  # the step that stopped it
    assert run.log_likelihoods[0] == pytest.approx(estimators.caption_log_likelihood(counted, chunks))
    assert run.log_likelihoods[-1] == pytest.approx(estimators.caption_log_likelihood(run.pdf, chunks))
    bounded = estimators.fit_em(counted, chunks, tolerance=0.0, max_iterations=3)
    assert len(bounded.log_likelihoods) == 4 and not bounded.converged


def test_em_is_bit_identical_on_every_run_and_does_not_depend_on_the_chunking():
    _, counted, chunks = _planted(2)
    first, second = (estimators.fit_em(counted, chunks, tolerance=1e-6) for _ in range(2))
    assert np.array_equal(first.pdf, second.pdf) and first.log_likelihoods == second.log_likelihoods
    whole = estimators.fit_em(counted, lambda: chunks(IMAGES), tolerance=1e-6)
    np.testing.assert_allclose(whole.pdf, first.pdf, atol=1e-9)


def test_images_no_filter_responds_to_do_not_count():
    shares = np.array([[1.0, 0.0], [0.0, 0.0]])
    counts = sparse.csr_matrix(np.array([[0.5, 0.5], [1.0, 0.0]]))
    value = estimators.caption_log_likelihood(np.array([[0.5, 0.5], [1.0, 0.0]]), lambda: [(shares, counts)])
    assert value == pytest.approx(np.log(0.5))  # one image explained, the silent one left out


def _step_by_definition(pdf, chunks):
    """The EM step written out entry by entry: p(a|x) = Σ_f p(f|x) p(a|f) at every caption attribute."""
    sums, log_likelihood, images = np.zeros_like(pdf), 0.0, 0
    for shares, counts in chunks():
        responding = shares.sum(axis=1) > 0
        coo = counts.tocoo()
        for x, a, n in zip(coo.row, coo.col, coo.data):
            if not responding[x]:
                continue
            mixture = float(shares[x] @ pdf[:, a])
            if mixture > 0:
                log_likelihood += n * np.log(mixture)
                sums[:, a] += shares[x] * n / mixture
        images += int(responding.sum())
    return sums * pdf, log_likelihood, images


@pytest.mark.parametrize("values", [estimators.MIXTURE_VALUES, 8 * ATTRIBUTES + 3])  # one block per chunk, or many
def test_the_step_as_products_equals_the_step_by_definition(monkeypatch, values):
    """The step's products (dense p(f|x) · p(a|f) in row blocks, sparse n / p(a|x) · p(f|x)) give the
    sums of its definition up to float rounding: 1e-12 relative."""
    monkeypatch.setattr(estimators, "MIXTURE_VALUES", values)
    _, counted, chunks = _planted(1)
    pdf = positive_shares(counted)
    expected, log_likelihood, images = estimators._step(pdf, chunks)
    reference, reference_likelihood, reference_images = _step_by_definition(pdf, chunks)
    assert images == reference_images > 0
    assert log_likelihood == pytest.approx(reference_likelihood, rel=1e-12)
    np.testing.assert_allclose(expected, reference, rtol=1e-12, atol=0)
    assert estimators.caption_log_likelihood(counted, chunks) == pytest.approx(reference_likelihood / reference_images, rel=1e-12)


def test_each_registered_estimator_returns_a_distribution_and_its_likelihoods():
    """Through the registry, as the `pdfs` stage calls it: counting is the co-occurrence with its one
    likelihood; EM is `fit_em` with the tolerance from its declared settings."""
    _truth, counted, chunks = _planted()
    settings = {name: 1e-6 for name in estimators.ESTIMATORS["em"].options}
    for estimator in estimators.ESTIMATORS.values():
        run = estimator.estimate(counted, chunks, settings)
        assert run.pdf.shape == counted.shape and run.converged and run.log_likelihoods
    counting = estimators.ESTIMATORS["counting"].estimate(counted, chunks, {})
    np.testing.assert_array_equal(counting.pdf, counted)
    assert counting.log_likelihoods == [estimators.caption_log_likelihood(counted, chunks)]
    em = estimators.ESTIMATORS["em"].estimate(counted, chunks, settings)
    np.testing.assert_array_equal(em.pdf, estimators.fit_em(counted, chunks, tolerance=1e-6).pdf)


def test_an_estimator_shows_its_own_progress_only_when_it_iterates(capsys):
    """EM reports its steps (a start and an end line off a terminal, with the step count); the
    one-pass count prints nothing; neither prints without `progress`."""
    _truth, counted, chunks = _planted()
    settings = {"em_tolerance": 1e-6}
    run = estimators.ESTIMATORS["em"].estimate(counted, chunks, settings, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("EM on p(a|f)")
    assert f"{len(run.log_likelihoods)} step" in lines[1]
    estimators.ESTIMATORS["counting"].estimate(counted, chunks, {}, progress=True)
    estimators.ESTIMATORS["em"].estimate(counted, chunks, settings, progress=False)
    assert capsys.readouterr().err == ""
