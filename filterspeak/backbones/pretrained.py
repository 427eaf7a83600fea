"""The weights FilterSpeak ships for its built-in backbone, as torchvision ships its models' weights.

Training on the CPU is deterministic on one machine but not across CPU kinds (other BLAS and
oneDNN kernels take other rounding paths), so a network trained at build time differs from one
machine to the next, and every figure of the build with it. The networks the documentation quotes
are therefore trained once, by the training code of the `backbone` stage, and shipped as package
data (`filterspeak/backbones/weights/`) with their sha256 in `weights/index.json`. A build of one
of these (backbone, dataset) pairs loads them instead of training; `--train` trains anyway. Any
other width, seed, epochs or dataset trains as before.

`scripts/shipped_weights.py` regenerates the files from the training code and checks their sha256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch

from filterspeak.backbones.registry import BackboneSpec
from filterspeak.datasets.synthetic import SyntheticConfig
from filterspeak.errors import FilterSpeakError
from filterspeak.files import sha256_file

WEIGHTS_DIR = Path(__file__).with_name("weights")
INDEX = WEIGHTS_DIR / "index.json"


class ShippedWeightsError(FilterSpeakError):
    """Shipped weights that are missing, damaged, or do not fit the dataset they are loaded for."""


@dataclass(frozen=True)
class ShippedWeights:
    """One shipped network: the built-in backbone's training knobs and the synthetic dataset it was
    trained on, its file, and what was recorded when it was made (sha256, accuracies, the dataset's
    pixels hash, the planted concepts)."""

    key: str  # the file's stem and the entry's name in index.json
    network: BackboneSpec  # the built-in backbone's training knobs (`BackboneSpec.training_knobs`)
    dataset: SyntheticConfig
    description: str = ""

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / f"{self.key}.pt"

    @property
    def record(self) -> dict[str, Any]:
        """What `scripts/shipped_weights.py` recorded when it made the file."""
        try:
            return _index()[self.key]
        except KeyError:
            raise ShippedWeightsError(
                f"no record of the shipped weights {self.key!r} in {INDEX}: reinstall filterspeak, or build with --train"
            ) from None

    @property
    def sha256(self) -> str:
        return self.record["sha256"]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights, after checking the file's sha256 against the record (a damaged install is one line)."""
        if not self.path.is_file():
            raise ShippedWeightsError(f"the shipped weights file {self.path} is missing: reinstall filterspeak, or build with --train")
        actual = sha256_file(self.path)
        if actual != self.sha256:
            raise ShippedWeightsError(
                f"the shipped weights file {self.path} has sha256 {actual}, recorded {self.sha256}: reinstall filterspeak, "
                "or build with --train"
            )
        return torch.load(self.path, map_location="cpu", weights_only=True)


#: Every shipped network. The default build, the evaluation's known-filter twin of it, and the
#: failure-analysis example of docs/evaluation.md (`--confusable-pairs 4`).
SHIPPED: dict[str, ShippedWeights] = {
    entry.key: entry
    for entry in (
        ShippedWeights("smallcnn-w16-s0", BackboneSpec(), SyntheticConfig(), "the default build"),
        ShippedWeights(
            "smallcnn-w16-s0-c8", BackboneSpec(concept_filters=8), SyntheticConfig(), "the evaluation's known-filter twin of the default"
        ),
        ShippedWeights(
            "smallcnn-w16-s0-cp4",
            BackboneSpec(),
            SyntheticConfig(confusable_pairs=4),
            "the default backbone on --confusable-pairs 4 (docs/evaluation.md, failure analysis)",
        ),
    )
}


def find(spec: BackboneSpec, dataset: SyntheticConfig | None) -> ShippedWeights | None:
    """The shipped network with the training knobs of `spec` on this synthetic dataset, or None (train it)."""
    if dataset is None or not spec.trainable:
        return None
    knobs = spec.training_knobs()
    return next((entry for entry in SHIPPED.values() if entry.dataset == dataset and entry.network.training_knobs() == knobs), None)


@cache
def _index() -> dict[str, dict[str, Any]]:
    if not INDEX.is_file():
        return {}
    return json.loads(INDEX.read_text(encoding="utf-8"))
