"""The streamed co-occurrence product against a direct float64 computation of
Σ_x p(x|f) p(a|x) with the SQL's selection (top k by response, ties by image id)."""

import numpy as np
import pytest

from filterspeak.interpret.cooccurrence import CooccurrenceSums, Selection, TopResponses


def _case(seed: int = 0, images: int = 300, filters: int = 7, attributes: int = 5):
    rng = np.random.default_rng(seed)
    responses = np.round(rng.random((images, filters)) * 4 - 1, 1)  # zeros, negatives and many ties
    pairs = [(x, a, rng.random()) for x in range(images) for a in sorted(rng.choice(attributes, 2, replace=False))]
    return responses, np.array(pairs)


def _reference(responses, pairs, top_k, attributes):
    """Direct: p(x|f) over the selected images, then the dense float64 product."""
    images, filters = responses.shape
    probabilities = np.zeros((images, attributes))
    probabilities[pairs[:, 0].astype(int), pairs[:, 1].astype(int)] = pairs[:, 2]
    has = probabilities > 0
    mask = np.zeros_like(responses, dtype=bool)
    for f in range(filters):
        positive = np.flatnonzero(responses[:, f] > 0)
        ranked = positive[np.lexsort((positive, -responses[positive, f]))]  # response desc, then image
        mask[ranked[: top_k or None], f] = True
    weights = np.where(mask, responses, 0.0)
    image_given_filter = weights / weights.sum(axis=0)
    return image_given_filter.T @ probabilities, mask.T.astype(float) @ has


def _streamed(responses, pairs, top_k, attributes, chunk):
    filters = responses.shape[1]
    if top_k:
        top = TopResponses(top_k, filters)
        for start in range(0, len(responses), chunk):
            top.add(responses[start : start + chunk])
        selection = top.selection()
    else:
        selection = Selection.positive(filters)
    sums = CooccurrenceSums(filters, attributes)
    order = np.lexsort((pairs[:, 0], pairs[:, 1]))  # by attribute, then image (as the SQL orders them)
    pairs = pairs[order]
    for start in range(0, len(responses), chunk):
        block = responses[start : start + chunk]
        inside = (pairs[:, 0] >= start) & (pairs[:, 0] < start + len(block))
        rows, ids, values = pairs[inside, 0].astype(int) - start, pairs[inside, 1].astype(int), pairs[inside, 2]
        sums.add(block, selection.mask(block), rows, ids, values)
    table = sums.table()
    dense, support = np.zeros((filters, attributes)), np.zeros((filters, attributes))
    dense[table["filter"], table["attribute_id"]] = table["cooccurrence"]
    support[table["filter"], table["attribute_id"]] = table["support"]
    return dense, support, table


@pytest.mark.parametrize("top_k", [0, 1, 3, 40, 1000])
@pytest.mark.parametrize("chunk", [1, 64, 1000])
def test_streamed_product_equals_the_direct_float64_computation(top_k, chunk):
    responses, pairs = _case()
    expected, expected_support = _reference(responses, pairs, top_k, 5)
    dense, support, _ = _streamed(responses, pairs, top_k, 5, chunk)
    np.testing.assert_allclose(dense, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(support, expected_support)


def test_ties_at_the_kth_response_go_to_the_lowest_image_ids():
    # filter 0: responses 5, 2, 2, 2, 0 → top 2 = image 0 and the first image with 2 (image 1)
    responses = np.array([[5.0], [2.0], [2.0], [2.0], [0.0]])
    pairs = np.array([[x, x, 1.0] for x in range(5)])
    _, support, _ = _streamed(responses, pairs, top_k=2, attributes=5, chunk=2)
    np.testing.assert_array_equal(support[0], [1, 1, 0, 0, 0])


def test_reruns_are_bit_identical_and_pairs_are_ordered():
    responses, pairs = _case(seed=3)
    first = _streamed(responses, pairs, 3, 5, 64)[2]
    second = _streamed(responses, pairs, 3, 5, 64)[2]
    assert first.equals(second)
    assert list(first[["filter", "attribute_id"]].itertuples(index=False)) == sorted(
        first[["filter", "attribute_id"]].itertuples(index=False)
    )
