"""The evaluation's metric functions on tiny hand-made inputs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from filterspeak.api.metrics import ROWS
from filterspeak.evaluation import deletion, grounding, known_filters, randomization, ranking, retrieval
from filterspeak.evaluation.report import EvaluationRecord, markdown_table
from filterspeak.interpret.image_attributes import image_attribute_scores


def test_average_precision_known_values():
    assert ranking.average_precision(np.array([0.9, 0.8, 0.1]), np.array([1, 1, 0])) == pytest.approx(1.0)
    # positives at ranks 1 and 3: (1/1 + 2/3) / 2
    assert ranking.average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == pytest.approx((1 + 2 / 3) / 2)
    # ties earn no credit from order: all tied = prevalence
    assert ranking.average_precision(np.zeros(4), np.array([0, 0, 0, 1])) == pytest.approx(0.25)
    assert np.isnan(ranking.average_precision(np.ones(3), np.zeros(3)))


def test_random_ranking_is_near_prevalence():
    labels = np.r_[np.ones(20), np.zeros(80)]
    assert ranking.random_ranking_precision(labels, draws=50) == pytest.approx(0.2, abs=0.06)


def test_known_filter_recovery_counts_hits_and_ranks():
    phrases = ["red crown", "blue wing", "white breast"]
    pdf = np.array([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.0, 0.0, 0.0]])
    result = known_filters.known_filter_recovery(pdf, phrases, ["red crown", "blue wing", "green tail"])
    assert result.top1 == pytest.approx(1 / 3)  # filter 0 right, filter 1 ranks it 2nd, filter 2 unknown phrase
    assert result.auprc == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert result.missing == ("green tail",)
    assert result.found == ("red crown", "red crown", "")


def test_retrieval_scores_and_class_prior():
    pdf = np.array([[1.0, 0.0], [0.0, 1.0]])  # filter 0 ↔ attribute 0, filter 1 ↔ attribute 1
    responses = np.array([[5.0, 0.0], [0.0, 2.0], [4.0, 1.0], [0.0, 0.0]])
    scores = image_attribute_scores(pdf, responses)
    np.testing.assert_allclose(scores, [[1, 0], [0, 1], [0.8, 0.2], [0, 0]])
    presence = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=bool)
    classes = np.array([0, 0, 1, 1])
    frequency = retrieval.class_frequencies(presence, classes, 2)
    np.testing.assert_allclose(frequency, [[0.5, 0.5], [0.5, 0.5]])
    assert retrieval.varies_within_classes(presence, classes, 2).all()  # all variance is within classes
    result = retrieval.evaluate_retrieval(scores, presence, frequency[classes], np.array([True, True]), ["a", "b"])
    # attribute 1: image 1 first, then a negative, then a tie of one positive and one negative
    assert result.map == pytest.approx((1.0 + (0.5 * 1.0 + 0.5 * 0.5)) / 2)
    assert result.class_prior_map == pytest.approx(0.5)  # all tied
    assert result.varying_map > result.varying_class_prior_map


def test_attribute_fixed_by_class_does_not_vary_within_classes():
    presence = np.array([[1], [1], [0], [0]], dtype=bool)
    assert not retrieval.varies_within_classes(presence, np.array([0, 0, 1, 1]), 2)[0]


def test_heat_map_peaks_follow_the_attribute_filter():
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, 0, 0] = 1.0  # filter 0 fires top-left
    maps[0, 1, 3, 3] = 1.0  # filter 1 fires bottom-right
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    peaks = grounding.heat_map_peaks(maps, weights, (8, 8))
    assert tuple(peaks[0, 0]) in {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert tuple(peaks[0, 1]) in {(6, 6), (6, 7), (7, 6), (7, 7)}


def test_grounding_tally_and_baselines():
    masks = np.zeros((2, 4, 4), dtype=np.uint8)
    masks[:, :2, :2] = 1  # part 1 in the top-left quarter
    masks[:, 2, 2] = 2  # part 2 covers the centre pixel
    tally = grounding.GroundingTally()
    tally.add(
        masks, np.array([1, 2]), peaks=np.array([[0, 0], [0, 0]]), cam_peaks=np.array([[3, 3], [2, 2]]), cited=np.array([True, False])
    )
    result = tally.result()
    assert result.accuracy == pytest.approx(0.5)
    assert (result.cited_accuracy, result.cited_pairs) == (1.0, 1)
    assert result.baselines["centre"] == pytest.approx(0.5)  # centre (2, 2) is part 2
    assert result.baselines["random"] == pytest.approx((4 / 16 + 1 / 16) / 2)
    assert result.baselines["cam"] == pytest.approx(0.5)
    assert result.best_baseline == pytest.approx(0.5)
    assert result.miss_regions == {1: 1.0}  # the one miss (part 2) peaked on part 1


def test_filter_peaks_are_each_filters_own_peak_in_chunks():
    maps = torch.zeros(1, 3, 4, 4)
    maps[0, 0, 0, 0] = maps[0, 1, 3, 3] = maps[0, 2, 0, 3] = 1.0
    peaks = grounding.filter_peaks(maps, (8, 8), chunk=2)  # filters 0-1, then 2
    assert peaks.shape == (1, 3, 2)
    assert tuple(peaks[0, 0]) in {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert tuple(peaks[0, 1]) in {(6, 6), (6, 7), (7, 6), (7, 7)}
    assert tuple(peaks[0, 2]) in {(0, 6), (0, 7), (1, 6), (1, 7)}


def _images_with_two_parts(rng, count):
    """Feature maps (count, 3, 4, 4) and masks (count, 8, 8): part 1 and part 2 in random cells;
    filter 0 marks part 1's cell, filter 1 part 2's, filter 2 is noise."""
    maps, masks = torch.zeros(count, 3, 4, 4), np.zeros((count, 8, 8), dtype=np.uint8)
    for k in range(count):
        first, second = rng.choice(16, size=2, replace=False)
        for label, cell in ((1, first), (2, second)):
            row, col = divmod(int(cell), 4)
            maps[k, label - 1, row, col] = 1.0
            masks[k, 2 * row : 2 * row + 2, 2 * col : 2 * col + 2] = label
        maps[k, 2] = torch.from_numpy(rng.random((4, 4))).float()
    return maps, masks


def test_part_locator_learns_where_each_part_is_from_the_maps():
    rng = np.random.default_rng(0)
    locator = grounding.PartLocator(labels=(1, 2))
    train_maps, train_masks = _images_with_two_parts(rng, 40)
    locator.add(train_maps[:20], train_masks[:20])
    locator.add(train_maps[20:], train_masks[20:])  # batches accumulate
    locator.fit()
    assert locator.weights.shape == (3, 2)
    assert locator.weights[0, 0] > 0.5 and locator.weights[1, 1] > 0.5  # filter 0 locates part 1, filter 1 part 2
    test_maps, test_masks = _images_with_two_parts(rng, 10)
    rows, parts = np.r_[np.arange(10), np.arange(10)], np.r_[np.ones(10, int), np.full(10, 2)]
    assert locator.hits(test_maps, test_masks[rows], rows, parts).all()
    other_images = locator.hits(test_maps.roll(1, dims=0), test_masks[rows], rows, parts)
    assert other_images.mean() < 0.5  # another image's maps point elsewhere


def test_reference_tally_scores_the_fitted_references_on_test_pairs():
    rng = np.random.default_rng(1)
    maps, masks = _images_with_two_parts(rng, 30)

    def pairs(images):  # every image twice: attribute 0 on part 1, attribute 1 on part 2
        rows = np.r_[images, images]
        parts = np.r_[np.ones(len(images), int), np.full(len(images), 2)]
        return rows, parts - 1, parts

    rows, attributes, parts = pairs(np.arange(20))
    fitted = grounding.FilterHitTally(num_attributes=2, num_filters=3)
    fitted.add(masks[rows], attributes, parts, grounding.filter_peaks(maps[:20], (8, 8))[rows])
    locator = grounding.PartLocator(labels=(1, 2))
    locator.add(maps[:20], masks[:20])
    locator.fit()
    references = grounding.ReferenceTally(fitted, locator, grounding.FilterHitTally(2, 3))
    rows, attributes, parts = pairs(np.arange(10))  # rows within the test batch of images 20-29
    references.add(maps[20:], masks[20:][rows], attributes, parts, rows)
    assert references.result() == (1.0, 1.0)  # filter 0, filter 1 and the locator find every part
    assert (references.locator_pairs, references.test.pairs.tolist()) == (20, [10, 10])


def test_best_filter_accuracy_picks_the_filter_on_train_and_scores_it_on_test():
    masks = np.zeros((1, 4, 4), dtype=np.uint8)
    masks[0, :2, :] = 1  # part 1: the top half; part 2: the bottom half
    masks[0, 2:, :] = 2
    top, bottom = [0, 0], [3, 3]

    def tally(pairs):  # pairs: (attribute, part, peak of filter 0, peak of filter 1)
        counts = grounding.FilterHitTally(num_attributes=3, num_filters=2)
        for attribute, part, peak0, peak1 in pairs:
            counts.add(masks, np.array([attribute]), np.array([part]), np.array([[peak0, peak1]]))
        return counts

    # attribute 0 (part 1): filter 1 hits on train; attribute 1 (part 2): filter 0 hits; attribute 2: no train pairs
    train = tally([(0, 1, bottom, top), (0, 1, bottom, top), (1, 2, bottom, top)])
    np.testing.assert_array_equal(train.hits, [[0, 2], [1, 0], [0, 0]])
    np.testing.assert_array_equal(train.pairs, [2, 1, 0])
    # on test: attribute 0's filter 1 hits once of twice, attribute 1's filter 0 misses, attribute 2 counts as a miss
    test = tally([(0, 1, bottom, top), (0, 1, top, bottom), (1, 2, top, bottom), (2, 1, top, top)])
    assert grounding.best_filter_accuracy(train, test) == pytest.approx(1 / 4)
    assert np.isnan(grounding.best_filter_accuracy(train, grounding.FilterHitTally(3, 2)))


def test_filter_given_attribute_is_bayes():
    pdf = np.array([[0.5, 0.5], [1.0, 0.0]])
    prior = np.array([0.25, 0.75])
    np.testing.assert_allclose(grounding.filter_given_attribute(pdf, prior), [[0.125 / 0.875, 0.75 / 0.875], [1.0, 0.0]])


def test_filters_behind_citations_pick_carriers_of_each_attribute():
    contributions = np.array([3.0, 1.0, 2.0, -1.0])
    pdf = np.array([[1.0, 0.0], [0.0, 1.0], [0.4, 0.6], [1.0, 0.0]])
    assert deletion.filters_behind_citations(contributions, pdf, [0], per_attribute=2) == [0, 2]
    assert deletion.filters_behind_citations(contributions, pdf, [1, 0], per_attribute=1) == [2, 0]


def test_deletion_ratio():
    tally = deletion.DeletionTally()
    tally.add(np.array([0.9, 0.8]), np.array([0.3, 0.2]), np.array([[0.8, 0.9], [0.7, 0.7]]), filters=4)
    result = tally.result()
    assert result.cited_drop == pytest.approx(0.6)
    assert result.random_drop == pytest.approx(((0.1 + 0.0) / 2 + 0.1) / 2)
    assert result.ratio == pytest.approx(0.6 / 0.075)


def test_cited_overlap_is_mean_jaccard():
    trained = pd.DataFrame({"image_id": [1, 1, 2], "phrase": ["red crown", "blue wing", "white breast"]})
    randomised = pd.DataFrame({"image_id": [1, 2, 2], "phrase": ["red crown", "black tail", "grey beak"]})
    overlap, images = randomization.cited_overlap(trained, randomised)
    assert images == 2
    assert overlap == pytest.approx((1 / 2 + 0) / 2)


def test_report_targets_and_table():
    target = {row.key: row.target for row in ROWS}
    assert target["deletion_ratio"].met(3.5) is True
    assert target["randomization_overlap"].met(0.3) is False
    assert target["grounding_accuracy"].met(None) is None
    record = EvaluationRecord(metrics={"deletion_ratio": 4.0, "randomization_overlap": 0.1}, notes={"grounding": "no masks"}, rows=ROWS)
    table = markdown_table(record)
    assert "| Deletion ratio (cited / random) | 4.000 |" in table and "no masks" in table
    assert record.to_json()["targets"]["deletion_ratio"] is True


def test_targets_with_a_reference_print_it_and_the_ratio_to_it():
    record = EvaluationRecord(metrics={"retrieval_map": 0.35, "retrieval_probe_map": 0.5, "grounding_accuracy": 0.4}, rows=ROWS)
    table = markdown_table(record)
    assert "| Retrieval mAP | 0.350 | class prior n/a, random n/a | >= 0.55 | supervised linear probe 0.500 | 0.700 | NO |" in table
    # a missing reference is named, with no value and no ratio
    assert "| >= 0.5 | supervised best filter n/a | n/a | NO |" in table
    assert "| Deletion ratio (cited / random) | n/a |  | >= 3 |  |  |  |" in table


def test_linear_probe_reads_an_encoded_attribute():
    rng = np.random.default_rng(0)
    presence = rng.random((200, 1)) < 0.3
    responses = np.c_[presence[:, 0] * 2.0 + rng.normal(0, 0.1, 200), rng.normal(0, 1, 200)]
    scores = retrieval.linear_probe_scores(responses[:150], presence[:150], responses[150:])
    assert ranking.average_precision(scores[:, 0], presence[150:, 0]) > 0.99
