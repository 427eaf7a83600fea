"""Deletion faithfulness: zeroing the filters behind a sentence's words should hurt the decision.

For an explained image with predicted class ĉ and cited attributes a_1..a_k, the filters behind
a_i are the `per_attribute` filters with the largest share p(f|x,ĉ) p(a_i|f) of that attribute's
score. Zeroing them (their feature maps set to 0 at the layer) lowers p(ĉ|x) by some amount; the
ratio compares the mean drop with the mean drop from zeroing as many random filters (several
draws). A ratio near 1 means the words point at filters no more important than any others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterspeak.interpret.decomposition import filter_weights_for_decision


def filters_behind_citations(contributions: np.ndarray, pdf: np.ndarray, cited: list[int], per_attribute: int = 2) -> list[int]:
    """Distinct filters, in order of citation, that carry most of each cited attribute's score."""
    weights = filter_weights_for_decision(contributions[None, :])[0]
    chosen: list[int] = []
    for attribute_id in cited:
        share = weights * pdf[:, attribute_id]
        for filter_id in np.argsort(-share, kind="stable")[:per_attribute]:
            if share[filter_id] > 0 and int(filter_id) not in chosen:
                chosen.append(int(filter_id))
    return chosen


def random_filter_sets(count: int, num_filters: int, draws: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.choice(num_filters, size=count, replace=False) for _ in range(draws)]


@dataclass
class DeletionTally:
    images: int = 0
    cited_drop: float = 0.0
    random_drop: float = 0.0
    filters: int = 0

    def add(self, original: np.ndarray, after_cited: np.ndarray, after_random: np.ndarray, filters: int) -> None:
        """Probabilities of the predicted class: (n,), (n,) and (n, draws)."""
        self.images += len(original)
        self.cited_drop += float(np.sum(original - after_cited))
        self.random_drop += float(np.sum(original[:, None] - after_random) / after_random.shape[1])
        self.filters += filters

    def result(self) -> DeletionResult:
        cited = self.cited_drop / max(self.images, 1)
        random = self.random_drop / max(self.images, 1)
        ratio = cited / random if random > 0 else float("inf") if cited > 0 else float("nan")
        return DeletionResult(ratio, cited, random, self.images, self.filters / max(self.images, 1))


@dataclass(frozen=True)
class DeletionResult:
    ratio: float
    cited_drop: float  # mean drop of p(ĉ|x) when the cited attributes' filters are zeroed
    random_drop: float  # ... when as many random filters are zeroed
    images: int
    mean_filters: float  # filters zeroed per image
