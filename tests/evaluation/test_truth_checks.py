"""The two ground-truth checks on hand-made frames: each hit and miss is counted by hand."""

import pandas as pd

from filterspeak.evaluation.truth_checks import cited_attribute_precision, selective_filter_precision

ATTRIBUTES = pd.DataFrame({"attribute_id": [0, 1], "phrase": ["red crown", "striped wing"]})
TRUTH = pd.DataFrame({"image_id": [1, 2, 3], "phrase": ["red crown", "red crown", "striped wing"]})


def test_cited_attribute_precision_counts_only_correct_decisions():
    explanations = pd.DataFrame({"image_id": [1, 2, 3], "correct": [True, True, False]})
    cited = pd.DataFrame({"image_id": [1, 1, 2, 3], "phrase": ["red crown", "striped wing", "red crown", "red crown"]})
    result = cited_attribute_precision(explanations, cited, TRUTH)
    assert (result.numerator, result.denominator) == (2, 3)


def test_selective_filter_precision_uses_top_activating_images():
    stats = pd.DataFrame({"filter": [0, 1], "selectivity": [0.9, 0.8], "top_attribute_id": [0, 0]})
    # filter 0 fires on images 1 and 2 (red crowns); filter 1 on image 3 (no red crown)
    activations = pd.DataFrame(
        {"filter": [0, 0, 0, 1, 1, 1], "image_id": [1, 2, 3, 1, 2, 3], "max_response": [5.0, 4.0, 0.1, 0.1, 0.2, 6.0]}
    )
    result = selective_filter_precision(
        stats, ATTRIBUTES, activations, TRUTH, pd.Series([1, 2, 3]), min_selectivity_quantile=0.0, top_images=1
    )
    assert (result.numerator, result.denominator) == (1, 2)
