"""Grounding: does the heat map of an attribute peak on the right part of the bird?

M_a(x) = Σ_f p(f|a) A_f(x), upsampled (bilinear) to the image; p(f|a) ∝ p(a|f) p(f) with p(f)
the mean share of f in the responses. For each evaluated image and each vocabulary attribute
truly present in it, a hit is a peak inside the mask of the attribute's part. Baselines, scored
on the same (image, attribute) pairs: the image centre; a uniformly random point (its expected
hit rate, the part's area fraction, computed exactly); and the peak of the class activation map
Σ_f w_ĉf A_f(x) for the predicted class ĉ (which knows the decision but not the attribute).
The accuracy is also reported on the pairs whose attribute the image's sentence cites: the words
a user reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from filterspeak.interpret.decomposition import positive_shares


def filter_given_attribute(pdf: np.ndarray, filter_prior: np.ndarray) -> np.ndarray:
    """(A, F) p(f|a) ∝ p(a|f) p(f)."""
    joint = pdf.T * filter_prior[None, :]
    totals = joint.sum(axis=1, keepdims=True)
    return np.divide(joint, totals, out=np.zeros_like(joint), where=totals > 0)


def filter_prior(responses: np.ndarray) -> np.ndarray:
    """p(f): mean over images of p(f|x) ∝ s_f(x)."""
    return positive_shares(responses).mean(axis=0)


def heat_map_peaks(feature_maps: torch.Tensor, weights: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(B, K, 2) (row, column) peaks of the K maps Σ_f weights[b, k, f] A_f, upsampled to `size`.

    `weights` is (B, K, F) (per-image maps) or (K, F) (the same maps for every image)."""
    if weights.dim() == 2:
        heat = torch.einsum("kf,bfhw->bkhw", weights.float(), feature_maps.float())
    else:
        heat = torch.einsum("bkf,bfhw->bkhw", weights.float(), feature_maps.float())
    heat = F.interpolate(heat, size=size, mode="bilinear", align_corners=False)
    flat = heat.flatten(2).argmax(dim=2)
    return torch.stack([flat // size[1], flat % size[1]], dim=-1).numpy()


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
        self.centre_hits += int(np.sum(masks[:, height // 2, width // 2] == parts))
        self.random_hits += float(np.sum((masks == parts[:, None, None]).mean(axis=(1, 2))))
        self.cam_hits += int(np.sum(masks[rows, cam_peaks[:, 0], cam_peaks[:, 1]] == parts))

    def result(self) -> "GroundingResult":
        rate = (lambda hits: hits / self.pairs) if self.pairs else (lambda hits: float("nan"))
        baselines = {"centre": rate(self.centre_hits), "random": rate(self.random_hits), "cam": rate(self.cam_hits)}
        cited = self.cited_hits / self.cited_pairs if self.cited_pairs else float("nan")
        by_part = {label: self.part_hits[label] / count for label, count in sorted(self.part_pairs.items())}
        return GroundingResult(rate(self.hits), baselines, self.pairs, cited, self.cited_pairs, by_part)


@dataclass(frozen=True)
class GroundingResult:
    accuracy: float
    baselines: dict[str, float]
    pairs: int
    cited_accuracy: float = float("nan")
    cited_pairs: int = 0
    by_part: dict = field(default_factory=dict)  # accuracy per part (mask label, or its name)

    @property
    def best_baseline(self) -> float:
        return max(self.baselines.values())
