"""Grounding: does the heat map of an attribute peak on the right part of the bird?

M_a(x) = Σ_f p(f|a) A_f(x), upsampled (bilinear) to the image; p(f|a) ∝ p(a|f) p(f) with p(f)
the mean share of f in the responses. For each evaluated image and each vocabulary attribute
truly present in it, a hit is a peak inside the mask of the attribute's part. Baselines, scored
on the same (image, attribute) pairs: the image centre; a uniformly random point (its expected
hit rate, the part's area fraction, computed exactly); and the peak of the class activation map
Σ_f w_ĉf A_f(x) for the predicted class ĉ (which knows the decision but not the attribute).
The accuracy is also reported on the pairs whose attribute the image's sentence cites: the words
a user reads.

A supervised reference says how well the layer's own maps localise: for each attribute, the one
filter whose peak fell inside the attribute's part most often on the train pairs (chosen with the
masks, which FilterSpeak never sees), scored on the test pairs. It is the grounding twin of the
retrieval's linear probe: a yardstick for the network, not a competitor and not a strict bound
(a weighted sum of filters, as M_a is, can beat one filter). A second reference asks whether the
maps say where each part is at all, whatever its colour: a ridge regression per part from the
feature vector at each position to the share of that cell inside the part, fitted with the train
masks; a hit is its peak inside the part, on the same test pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

# the maps themselves live with `explain --heatmaps`, which draws them; p(f|a) and p(f) stay importable from here
from filterspeak.interpret.heatmaps import filter_given_attribute, filter_prior, heat_maps  # noqa: F401


def heat_map_peaks(feature_maps: torch.Tensor, weights: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(B, K, 2) (row, column) peaks of the K maps Σ_f weights[b, k, f] A_f, upsampled to `size`.

    `weights` is (B, K, F) (per-image maps) or (K, F) (the same maps for every image)."""
    flat = heat_maps(feature_maps, weights, size).flatten(2).argmax(dim=2)
    return torch.stack([flat // size[1], flat % size[1]], dim=-1).numpy()


def filter_peaks(feature_maps: torch.Tensor, size: tuple[int, int], chunk: int = 64) -> np.ndarray:
    """(B, F, 2) the peak of each filter's own map A_f, upsampled to `size` as M_a is; `chunk`
    filters at a time bound the memory of wide layers."""
    peaks = []
    for start in range(0, feature_maps.shape[1], chunk):
        block = feature_maps[:, start : start + chunk]
        peaks.append(heat_map_peaks(block, torch.eye(block.shape[1]), size))
    return np.concatenate(peaks, axis=1)


@dataclass
class FilterHitTally:
    """Per (attribute, filter): pairs whose part the filter's own peak hit, for the best-single-filter reference."""

    num_attributes: int
    num_filters: int
    hits: np.ndarray = field(init=False)  # (A, F)
    pairs: np.ndarray = field(init=False)  # (A,)

    def __post_init__(self) -> None:
        self.hits = np.zeros((self.num_attributes, self.num_filters), dtype=np.int64)
        self.pairs = np.zeros(self.num_attributes, dtype=np.int64)

    def add(self, masks: np.ndarray, attribute_ids: np.ndarray, parts: np.ndarray, peaks: np.ndarray) -> None:
        """`masks` (n, H, W) part labels of each pair's image, `attribute_ids`/`parts` (n,), `peaks`
        (n, F, 2) every filter's peak in the pair's image."""
        rows = np.arange(len(parts))[:, None]
        hits = masks[rows, peaks[..., 0], peaks[..., 1]] == parts[:, None]  # (n, F)
        np.add.at(self.hits, attribute_ids, hits.astype(np.int64))
        np.add.at(self.pairs, attribute_ids, 1)


def best_filter_accuracy(train: FilterHitTally, test: FilterHitTally) -> float:
    """Test accuracy when each attribute's map is the filter with the most train hits for it (an
    attribute without train pairs scores its test pairs as misses)."""
    if not test.pairs.sum():
        return float("nan")
    best = train.hits.argmax(axis=1)
    hits = np.where(train.pairs > 0, test.hits[np.arange(len(best)), best], 0)
    return float(hits.sum() / test.pairs.sum())


@dataclass
class PartLocator:
    """Per-part ridge regressions from a position's feature vector to the part's share of that cell,
    accumulated batch by batch (normal equations), then solved once by `fit`."""

    labels: tuple[int, ...]  # the mask labels of the parts to locate
    ridge: float = 1e-3  # relative to the mean diagonal of the Gram matrix
    gram: np.ndarray | None = None
    moments: np.ndarray | None = None
    weights: np.ndarray | None = None  # (F, P), without the intercept (it does not move a peak)

    def add(self, feature_maps: torch.Tensor, masks: np.ndarray) -> None:
        """`feature_maps` (B, F, h, w) and `masks` (B, H, W) part labels of the same images."""
        batch, filters, height, width = feature_maps.shape
        design = torch.cat(
            [feature_maps.double().permute(0, 2, 3, 1).reshape(-1, filters), torch.ones(batch * height * width, 1, dtype=torch.float64)], 1
        )
        labels = torch.from_numpy(np.asarray(masks))
        shares = torch.stack([(labels == label).double() for label in self.labels], dim=1)  # (B, P, H, W)
        targets = F.adaptive_avg_pool2d(shares, (height, width)).permute(0, 2, 3, 1).reshape(-1, len(self.labels))
        gram, moments = (design.T @ design).numpy(), (design.T @ targets).numpy()
        self.gram = gram if self.gram is None else self.gram + gram
        self.moments = moments if self.moments is None else self.moments + moments

    def fit(self) -> None:
        penalty = self.ridge * float(np.mean(np.diag(self.gram))) * np.eye(len(self.gram))
        penalty[-1, -1] = 0.0  # the intercept is not shrunk
        self.weights = np.linalg.solve(self.gram + penalty, self.moments)[:-1]

    def hits(self, feature_maps: torch.Tensor, masks: np.ndarray, rows: np.ndarray, parts: np.ndarray) -> np.ndarray:
        """(n,) whether the locator of each pair's part peaks inside it; `masks` (n, H, W) are the
        pairs' masks, `rows` (n,) their images in `feature_maps`, `parts` (n,) their part labels."""
        size = masks.shape[1:]
        peaks = heat_map_peaks(feature_maps, torch.from_numpy(self.weights.T), size)  # (B, P, 2)
        column = {label: k for k, label in enumerate(self.labels)}
        chosen = peaks[rows, [column[int(label)] for label in parts]]
        return masks[np.arange(len(parts)), chosen[:, 0], chosen[:, 1]] == parts


@dataclass
class ReferenceTally:
    """The two supervised references, fitted on the train pairs (`fitted`, `locator`), then
    scored on the test pairs batch by batch, beside the method's own tally."""

    fitted: FilterHitTally  # train hits: they choose each attribute's best filter
    locator: PartLocator  # fitted on the train masks
    test: FilterHitTally
    locator_hits: int = 0
    locator_pairs: int = 0

    def add(self, feature_maps: torch.Tensor, masks: np.ndarray, attribute_ids: np.ndarray, parts: np.ndarray, rows: np.ndarray) -> None:
        """Test pairs: `masks` (n, H, W), `attribute_ids`/`parts`/`rows` (n,) as in `PartLocator.hits`."""
        self.test.add(masks, attribute_ids, parts, filter_peaks(feature_maps, masks.shape[1:])[rows])
        located = self.locator.hits(feature_maps, masks, rows, parts)
        self.locator_hits += int(located.sum())
        self.locator_pairs += len(located)

    def result(self) -> tuple[float, float]:
        """(best single filter, part locator) accuracy on the test pairs."""
        located = self.locator_hits / self.locator_pairs if self.locator_pairs else float("nan")
        return best_filter_accuracy(self.fitted, self.test), located


@dataclass
class GroundingTally:
    """Hit counts, accumulated batch by batch over the same (image, attribute) pairs."""

    pairs: int = 0
    hits: int = 0
    centre_hits: int = 0
    random_hits: float = 0.0
    cam_hits: int = 0
    cited_pairs: int = 0
    cited_hits: int = 0
    part_pairs: dict[int, int] = field(default_factory=dict)
    part_hits: dict[int, int] = field(default_factory=dict)
    miss_regions: dict[int, int] = field(default_factory=dict)  # mask label under the peak of each miss

    def add(self, masks: np.ndarray, parts: np.ndarray, peaks: np.ndarray, cam_peaks: np.ndarray, cited: np.ndarray) -> None:
        """`masks` (n, H, W) part labels of each pair's image, `parts` (n,) the attribute's part label,
        `peaks`/`cam_peaks` (n, 2) the attribute map's and the class map's peak, `cited` (n,) whether
        the image's sentence cites the attribute."""
        rows = np.arange(len(parts))
        height, width = masks.shape[1:]
        hits = masks[rows, peaks[:, 0], peaks[:, 1]] == parts
        self.pairs += len(parts)
        self.hits += int(np.sum(hits))
        self.cited_pairs += int(np.sum(cited))
        self.cited_hits += int(np.sum(hits & cited))
        for label in np.unique(parts):
            here = parts == label
            self.part_pairs[int(label)] = self.part_pairs.get(int(label), 0) + int(here.sum())
            self.part_hits[int(label)] = self.part_hits.get(int(label), 0) + int(hits[here].sum())
        labels, counts = np.unique(masks[rows, peaks[:, 0], peaks[:, 1]][~hits], return_counts=True)
        for label, count in zip(labels.tolist(), counts.tolist()):
            self.miss_regions[label] = self.miss_regions.get(label, 0) + count
        self.centre_hits += int(np.sum(masks[:, height // 2, width // 2] == parts))
        self.random_hits += float(np.sum((masks == parts[:, None, None]).mean(axis=(1, 2))))
        self.cam_hits += int(np.sum(masks[rows, cam_peaks[:, 0], cam_peaks[:, 1]] == parts))

    def result(self) -> GroundingResult:
        rate = (lambda hits: hits / self.pairs) if self.pairs else (lambda hits: float("nan"))
        baselines = {"centre": rate(self.centre_hits), "random": rate(self.random_hits), "cam": rate(self.cam_hits)}
        cited = self.cited_hits / self.cited_pairs if self.cited_pairs else float("nan")
        by_part = {label: self.part_hits[label] / count for label, count in sorted(self.part_pairs.items())}
        misses = self.pairs - self.hits
        miss_regions = {label: count / misses for label, count in sorted(self.miss_regions.items(), key=lambda item: -item[1])}
        return GroundingResult(rate(self.hits), baselines, self.pairs, cited, self.cited_pairs, by_part, miss_regions)


@dataclass(frozen=True)
class GroundingResult:
    accuracy: float
    baselines: dict[str, float]
    pairs: int
    cited_accuracy: float = float("nan")
    cited_pairs: int = 0
    by_part: dict = field(default_factory=dict)  # accuracy per part (mask label, or its name)
    miss_regions: dict = field(default_factory=dict)  # share of the misses whose peak fell on each region
    best_filter: float = float("nan")  # the best single filter per attribute (a supervised reference)
    part_locator: float = float("nan")  # a linear part locator on the maps (a supervised reference)

    @property
    def best_baseline(self) -> float:
        return max(self.baselines.values())
