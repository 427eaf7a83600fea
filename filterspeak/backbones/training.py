"""Supervised training of a built-in backbone on the dataset's train split."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from filterspeak.backbones.images import normalise
from filterspeak.backbones.registry import BackboneSpec, Preprocessing


@dataclass(frozen=True)
class TrainingResult:
    train_accuracy: float
    test_accuracy: float
    final_loss: float


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips: birds face either way, parts keep their meaning."""
    flip = torch.rand(batch.shape[0], generator=generator) < 0.5
    batch = batch.clone()
    batch[flip] = batch[flip].flip(-1)
    return batch


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, preprocessing: Preprocessing,
             device: torch.device, batch_size: int = 256) -> float:
    if len(labels) == 0:
        return float("nan")
    model.eval()
    correct = 0
    for start in range(0, len(labels), batch_size):
        batch = normalise(images[start:start + batch_size].to(device), preprocessing)
        correct += (model(batch).argmax(1).cpu() == labels[start:start + batch_size]).sum().item()
    return correct / len(labels)


def train_classifier(
    model: nn.Module,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    progress: bool = True,
) -> TrainingResult:
    """AdamW + one-cycle schedule; deterministic for a given spec.train_seed on the CPU."""
    torch.manual_seed(spec.train_seed)
    generator = torch.Generator().manual_seed(spec.train_seed)
    images, labels = train
    model.to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=1e-4)
    steps_per_epoch = max(1, -(-len(labels) // spec.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=spec.learning_rate, total_steps=spec.epochs * steps_per_epoch
    )
    loss_function = nn.CrossEntropyLoss()
    loss = torch.tensor(float("nan"))
    bar = tqdm(range(spec.epochs), desc=f"train {spec.name}", unit="epoch", disable=not progress, leave=False)
    for _ in bar:
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), spec.batch_size):
            index = order[start:start + spec.batch_size]
            batch = normalise(_augment(images[index], generator).to(device), preprocessing)
            loss = loss_function(model(batch), labels[index].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return TrainingResult(
        train_accuracy=accuracy(model, images, labels, preprocessing, device),
        test_accuracy=accuracy(model, *test, preprocessing, device),
        final_loss=float(loss.item()),
    )
