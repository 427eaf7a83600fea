"""Are the words true? Two checks against a dataset's per-image ground-truth attributes.

Both take plain frames (read from the store's tables), so they run on any build whose dataset
has an `image_truth` table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class CheckResult:
    value: float  # fraction in [0, 1]
    numerator: int
    denominator: int


def selective_filter_precision(
    filter_stats: pd.DataFrame,
    attributes: pd.DataFrame,
    activations: pd.DataFrame,
    image_truth: pd.DataFrame,
    train_ids: pd.Series,
    min_selectivity_quantile: float = 0.75,
    top_images: int = 20,
    majority: float = 0.5,
) -> CheckResult:
    """Among the most selective filters, the fraction whose top attribute is truly present in at
    least `majority` of the filter's `top_images` most strongly activating train images."""
    stats = filter_stats[filter_stats["top_attribute_id"] >= 0]
    threshold = stats["selectivity"].quantile(min_selectivity_quantile)
    selective = stats[stats["selectivity"] >= threshold]
    phrase_of = dict(zip(attributes["attribute_id"], attributes["phrase"]))
    truth = set(zip(image_truth["image_id"], image_truth["phrase"]))
    train = activations[activations["image_id"].isin(set(train_ids))]
    top = train.sort_values(["filter", "max_response", "image_id"], ascending=[True, False, True]).groupby("filter").head(top_images)
    top_by_filter = top.groupby("filter")["image_id"].apply(list)
    hits = 0
    for filter_id, attribute_id in zip(selective["filter"], selective["top_attribute_id"]):
        images = top_by_filter.get(filter_id, [])
        present = sum((image_id, phrase_of[attribute_id]) in truth for image_id in images)
        hits += bool(images) and present >= majority * len(images)
    return CheckResult(hits / max(len(selective), 1), int(hits), len(selective))


def cited_attribute_precision(explanations: pd.DataFrame, explanation_attributes: pd.DataFrame, image_truth: pd.DataFrame) -> CheckResult:
    """For correctly classified images, the fraction of cited attributes truly present."""
    correct = explanations.loc[explanations["correct"], "image_id"]
    cited = explanation_attributes[explanation_attributes["image_id"].isin(set(correct))]
    truth = set(zip(image_truth["image_id"], image_truth["phrase"]))
    hits = sum((image_id, phrase) in truth for image_id, phrase in zip(cited["image_id"], cited["phrase"]))
    return CheckResult(hits / max(len(cited), 1), int(hits), len(cited))
