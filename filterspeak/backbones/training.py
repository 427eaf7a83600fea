"""Supervised training of a built-in backbone on the dataset's train split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from filterspeak.backbones.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from filterspeak.backbones.concepts import ConceptProbe, ConceptTargets
from filterspeak.backbones.images import normalise
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.progress import Progress, announce


@dataclass(frozen=True)
class TrainingResult:
    train_accuracy: float
    test_accuracy: float
    final_loss: float
    concept_accuracy: float | None = None  # train accuracy of the planted concept filters' probes


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips: birds face either way, parts keep their meaning."""
    flip = torch.rand(batch.shape[0], generator=generator) < 0.5
    batch = batch.clone()
    batch[flip] = batch[flip].flip(-1)
    return batch


@torch.no_grad()
def accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, preprocessing: Preprocessing, device: torch.device, batch_size: int = 256
) -> float:
    if len(labels) == 0:
        return float("nan")
    model.eval()
    correct = 0
    for start in range(0, len(labels), batch_size):
        batch = normalise(images[start : start + batch_size].to(device), preprocessing)
        correct += (model(batch).argmax(1).cpu() == labels[start : start + batch_size]).sum().item()
    return correct / len(labels)


def train_classifier(
    model: nn.Module,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    progress: bool = True,
    concepts: ConceptTargets | None = None,
    checkpoint: Path | None = None,
) -> TrainingResult:
    """AdamW + one-cycle schedule; deterministic for a given spec.train_seed on the CPU.

    With `concepts` (a SmallCNN only), the first K filters of the last conv block also learn,
    through a binary cross-entropy on their spatial max, to detect the planted attributes.
    `spec.epochs == 0` leaves the random initialisation (the randomisation check's model).
    With `checkpoint`, every finished epoch is saved there and a run finds the last one and
    continues from it; on the CPU the result equals an uninterrupted run's exactly."""
    torch.manual_seed(spec.train_seed)
    generator = torch.Generator().manual_seed(spec.train_seed)
    images, labels = train
    model.to(device)
    probe = ConceptProbe(len(concepts.phrases)).to(device) if concepts is not None else None
    parameters = list(model.parameters()) + (list(probe.parameters()) if probe is not None else [])
    optimiser = torch.optim.AdamW(parameters, lr=spec.learning_rate, weight_decay=1e-4)
    steps_per_epoch = max(1, -(-len(labels) // spec.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=spec.learning_rate, total_steps=max(spec.epochs, 1) * steps_per_epoch)
    loss_function = nn.CrossEntropyLoss()
    if concepts is not None:  # balanced per concept, summed over concepts: each filter gets the class loss's weight
        prevalence = concepts.labels.mean(dim=0).clamp(1e-3, 1 - 1e-3)
        balance = nn.BCEWithLogitsLoss(pos_weight=((1 - prevalence) / prevalence).to(device))
        concept_loss = lambda logits, targets: balance(logits, targets) * targets.shape[1]
    loss = torch.tensor(float("nan"))
    trained = _Trained(model, probe, optimiser, schedule, generator)
    first_epoch = trained.resume(checkpoint, spec) if checkpoint is not None else 0
    if first_epoch:
        loss = torch.tensor(trained.loss)
        announce(f"train {spec.name}: resuming after epoch {first_epoch} of {spec.epochs}")
    with Progress(spec.epochs, f"train {spec.name}", unit="epoch", enabled=progress, initial=first_epoch) as bar:
        for epoch in range(first_epoch, spec.epochs):
            model.train()
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(labels), spec.batch_size):
                index = order[start : start + spec.batch_size]
                batch = normalise(_augment(images[index], generator).to(device), preprocessing)
                if probe is None:
                    loss = loss_function(model(batch), labels[index].to(device))
                else:
                    before_relu = _last_block_before_relu(model, batch)
                    logits = model.classifier(model.avgpool(torch.relu(before_relu)).flatten(1))
                    loss = loss_function(logits, labels[index].to(device)) + concept_loss(
                        probe(before_relu), concepts.labels[index].to(device)
                    )
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
            bar.update(1)
            bar.postfix(loss=f"{loss.item():.3f}")
            if checkpoint is not None:
                trained.save(checkpoint, epoch + 1, spec, float(loss.item()))
    return TrainingResult(
        train_accuracy=accuracy(model, images, labels, preprocessing, device),
        test_accuracy=accuracy(model, *test, preprocessing, device),
        final_loss=float(loss.item()),
        concept_accuracy=None if probe is None else _concept_accuracy(model, probe, images, concepts, preprocessing, device),
    )


@dataclass
class _Trained:
    """Everything a training run changes, as one checkpoint: the weights, the optimiser and
    schedule, and the random generators (the batch order and the flips)."""

    model: nn.Module
    probe: nn.Module | None
    optimiser: torch.optim.Optimizer
    schedule: Any
    generator: torch.Generator
    loss: float = float("nan")

    def save(self, path: Path, epochs_done: int, spec: BackboneSpec, loss: float) -> None:
        save_checkpoint(
            path,
            {
                "spec": spec.name,
                "epochs": spec.epochs,
                "epochs_done": epochs_done,
                "loss": loss,
                "model": self.model.state_dict(),
                "probe": self.probe.state_dict() if self.probe is not None else {},
                "optimiser": self.optimiser.state_dict(),
                "schedule": self.schedule.state_dict(),
                "generator": self.generator.get_state(),
                "rng": torch.get_rng_state(),
            },
        )

    def resume(self, path: Path, spec: BackboneSpec) -> int:
        """The epochs already done by the checkpoint at `path` (0 when there is none that fits)."""
        state = load_checkpoint(path)
        if not state or state.get("spec") != spec.name or state.get("epochs") != spec.epochs:
            return 0
        try:
            self.model.load_state_dict(state["model"])
            if self.probe is not None:
                self.probe.load_state_dict(state["probe"])
            self.optimiser.load_state_dict(state["optimiser"])
            self.schedule.load_state_dict(state["schedule"])
            self.generator.set_state(state["generator"])
            torch.set_rng_state(state["rng"])
        except (KeyError, RuntimeError, ValueError):  # same spec and epochs, other shapes: a stale work area
            raise CheckpointError(f"training checkpoint {path} does not fit {spec.name}; delete it to start over") from None
        self.loss = float(state["loss"])
        return int(state["epochs_done"])


def _last_block_before_relu(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """SmallCNN's last block (conv, BN, ReLU) stopped before the ReLU: the concept loss reads it
    there so that a filter that is silent on every image (a dead ReLU) still gets a gradient."""
    *earlier, last = model.features
    hidden = batch
    for block in earlier:
        hidden = block(hidden)
    conv, norm, _relu = last
    return norm(conv(hidden))


@torch.no_grad()
def _concept_accuracy(model, probe, images, concepts: ConceptTargets, preprocessing, device, batch_size: int = 256) -> float:
    model.eval()
    correct = 0.0
    for start in range(0, len(images), batch_size):
        predicted = probe(_last_block_before_relu(model, normalise(images[start : start + batch_size].to(device), preprocessing))) > 0
        correct += (predicted.cpu().float() == concepts.labels[start : start + batch_size]).float().sum().item()
    return correct / max(concepts.labels.numel(), 1)
