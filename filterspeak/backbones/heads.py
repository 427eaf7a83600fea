"""Who decides, behind one interface: the logits of a batch and each filter's contribution α_f
to the decision. Extraction, `explain` and the evaluation all go through these classes, so a
decision is computed one way wherever it is needed.

- `ModelLinearHead`: the network's own head is global-average-pool + linear on the layer, so
  the logit decomposes exactly, α_f = w_ĉf · GAP(A_f) (ResNet's fc, the built-in CNN).
- `TrainedLinearHead`: a linear head fitted on the layer's GAP features (stage `head`); exact too,
  and the forward stops at the layer.
- `GradientTimesActivation`: any other head, α_f = Σ_hw A_f · ∂logit_ĉ/∂A_f.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from filterspeak.backbones import features
from filterspeak.backbones.features import BatchFeatures, ReducedFeatures
from filterspeak.backbones.registry import Preprocessing
from filterspeak.interpret.decomposition import GRADIENT_X_ACTIVATION, LINEAR_GAP, linear_gap_contributions


@dataclass(frozen=True)
class Decisions:
    """A batch decided: logits (N, C) float64, predicted (N,), contributions α (N, F) float64."""

    logits: np.ndarray
    contributions: np.ndarray
    features: BatchFeatures

    @property
    def predicted(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    @property
    def probabilities(self) -> np.ndarray:
        return torch.softmax(torch.from_numpy(self.logits), dim=1).numpy()


class DecisionHead:
    """Base: `forward_mode` says how far the network runs (features.forward_layers)."""

    method: str = ""  # the decomposition, as stored in `explanations.decomposition`
    forward_mode: str = "full"
    linear: tuple[np.ndarray, np.ndarray] | None = None  # (W (C, F), b (C,)) when the head is linear on GAP

    def logits(self, batch: BatchFeatures) -> np.ndarray:
        return batch.logits.double().numpy()

    def contributions(self, gap: np.ndarray, predicted: np.ndarray, gradients: np.ndarray | None = None) -> np.ndarray:
        """α (N, F) toward `predicted` from GAP responses (N, F) float64 (or the stored gradient × activation)."""
        raise NotImplementedError

    def decide(self, model: nn.Module, layer: str, batch: torch.Tensor, preprocessing: Preprocessing, device: torch.device) -> Decisions:
        """Run the network on a batch of images and decide."""
        result = features.forward_layers(model, [layer], batch, preprocessing, device, self.forward_mode)[layer]
        logits = self.logits(result)
        gradients = None if result.contributions is None else result.contributions.double().numpy()
        return Decisions(logits, self.contributions(result.gap.double().numpy(), logits.argmax(axis=1), gradients), result)

    def probabilities_with_filters_kept(
        self,
        model: nn.Module,
        layer: str,
        batch: torch.Tensor,
        maps: torch.Tensor,
        keep: torch.Tensor,
        preprocessing: Preprocessing,
        device: torch.device,
    ) -> torch.Tensor:
        """Class probabilities (B, C) with the filters where `keep` (B, F) is 0 zeroed at the layer."""
        logits = features.forward_with_filters_zeroed(model, layer, batch, keep, preprocessing, device).double()
        return torch.softmax(logits, dim=1)


class _LinearOnGap(DecisionHead):
    method = LINEAR_GAP

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.linear = (np.asarray(weights, dtype=np.float64), np.asarray(bias, dtype=np.float64))

    def contributions(self, gap: np.ndarray, predicted: np.ndarray, gradients: np.ndarray | None = None) -> np.ndarray:
        return linear_gap_contributions(gap, self.linear[0], predicted)


class ModelLinearHead(_LinearOnGap):
    """The network's own GAP + linear head; `module` is its name in the model."""

    forward_mode = "full"

    def __init__(self, weights: np.ndarray, bias: np.ndarray, module: str | None = None) -> None:
        super().__init__(weights, bias)
        self.module = module

    @classmethod
    def of(cls, model: nn.Module, module: str) -> ModelLinearHead:
        linear = model.get_submodule(module)
        return cls(linear.weight.detach().cpu().double().numpy(), linear.bias.detach().cpu().double().numpy(), module)


class TrainedLinearHead(_LinearOnGap):
    """A linear head fitted on the layer's GAP: the logits need only the layer's maps."""

    forward_mode = "to_layers"

    def logits(self, batch: BatchFeatures) -> np.ndarray:
        gap = batch.gap.double().numpy()
        return gap @ self.linear[0].T + self.linear[1]

    def probabilities_with_filters_kept(self, model, layer, batch, maps, keep, preprocessing, device) -> torch.Tensor:
        gap = (maps.mean(dim=(2, 3)) * keep).double()  # exact without a forward
        logits = gap @ torch.tensor(self.linear[0]).T + torch.tensor(self.linear[1])
        return torch.softmax(logits, dim=1)


class GradientTimesActivation(DecisionHead):
    method = GRADIENT_X_ACTIVATION
    forward_mode = "gradients"

    def contributions(self, gap: np.ndarray, predicted: np.ndarray, gradients: np.ndarray | None = None) -> np.ndarray:
        if gradients is None:
            raise ValueError("gradient x activation needs the gradients of a 'gradients' forward")
        return gradients


def model_head(model: nn.Module, batch: BatchFeatures | ReducedFeatures) -> DecisionHead:
    """The network's own head: linear on GAP when the logits say so (checked numerically on a
    batch from a "full" forward), gradient × activation otherwise."""
    linear = features.linear_gap_head(model, batch)
    if linear is None:
        return GradientTimesActivation()
    name = next(name for name, module in model.named_modules() if module is linear)
    return ModelLinearHead.of(model, name)
