"""The co-occurrence stage on a case computed by hand: the real SQL, every response variant."""

import pickle

import numpy as np
import pytest

from filterspeak.errors import OptionError
from filterspeak.interpret.responses import RESPONSES
from filterspeak.tasks.cooccurrence import CooccurrenceParams
from stage_runs import hand_made_cooccurrence


def test_all_images_matches_hand_computation(tmp_path):
    # f0: p(x|f0) = (1/3, 2/3) → a0 = 1/3 + 2/3·.5 = 2/3, a1 = 1/3
    # f1: p(x|f1) = (1/4, 3/4) over x2, x3 → a0 = 1/8, a1 = 1/8 + 3/4 = 7/8
    np.testing.assert_allclose(hand_made_cooccurrence(tmp_path, top_k=0), [[2 / 3, 1 / 3], [1 / 8, 7 / 8]], rtol=1e-12)


def test_top_k_keeps_only_the_strongest_images(tmp_path):
    np.testing.assert_allclose(hand_made_cooccurrence(tmp_path, top_k=1), [[0.5, 0.5], [0.0, 1.0]], rtol=1e-12)


def test_every_declared_response_is_a_column_the_stage_reads(tmp_path):
    # the mean responses are half the max ones: p(x|f) is the same, so is the co-occurrence
    assert {"max", "mean"} <= set(RESPONSES)
    for name in RESPONSES:
        np.testing.assert_allclose(hand_made_cooccurrence(tmp_path / name, top_k=0, response=name), [[2 / 3, 1 / 3], [1 / 8, 7 / 8]])


def test_an_unknown_response_is_an_error_not_another_response():
    with pytest.raises(OptionError, match="unknown response 'p42'; choose from " + ", ".join(RESPONSES)):
        CooccurrenceParams(response="p42", top_k=0)


@pytest.mark.parametrize("top_k", [0, 1])
def test_the_stage_streams_chunks_to_the_same_result(tmp_path, monkeypatch, top_k):
    """Two images per chunk: the train images span two chunks, the test image a third."""
    from filterspeak.tasks import cooccurrence as cooccurrence_stage

    whole = hand_made_cooccurrence(tmp_path / "whole", top_k=top_k)
    monkeypatch.setattr(cooccurrence_stage, "CHUNK_IMAGES", 2)
    np.testing.assert_allclose(hand_made_cooccurrence(tmp_path / "chunked", top_k=top_k), whole, rtol=1e-15)


class _PickledRunner:
    """A ShardRunner that sends every job and result through pickle, as a cluster does."""

    def __init__(self) -> None:
        self.jobs: list = []

    def map(self, function, jobs, done):
        results = []
        for job in jobs:
            self.jobs.append(pickle.loads(pickle.dumps(job)))
            results.append(pickle.loads(pickle.dumps(function(self.jobs[-1]))))
            done(results[-1])
        return results


@pytest.mark.parametrize("top_k", [0, 1])
def test_ranges_run_elsewhere_give_the_same_bits(tmp_path, monkeypatch, top_k):
    """One image per chunk and two chunks per range: the train images 1-2 and 3-4 are two jobs; their
    partial sums, added here in row order, are those of one pass here."""
    from filterspeak.tasks import cooccurrence as cooccurrence_stage

    monkeypatch.setattr(cooccurrence_stage, "CHUNK_IMAGES", 1)
    monkeypatch.setattr(cooccurrence_stage, "RANGE_CHUNKS", 2)
    here = hand_made_cooccurrence(tmp_path / "here", top_k=top_k)
    runner = _PickledRunner()
    there = hand_made_cooccurrence(tmp_path / "there", top_k=top_k, shards=runner)
    np.testing.assert_array_equal(there, here)
    expected = [[2 / 3, 1 / 3], [1 / 8, 7 / 8]] if top_k == 0 else [[0.5, 0.5], [0.0, 1.0]]
    np.testing.assert_allclose(here, expected, rtol=1e-12)
    if top_k == 0:
        assert [(job.start, job.stop, job.train.tolist()) for job in runner.jobs] == [(0, 2, [1, 2]), (2, 4, [3, 4])]
    else:  # which images count depends on the ranges before: they run here, one after the other
        assert runner.jobs == []
