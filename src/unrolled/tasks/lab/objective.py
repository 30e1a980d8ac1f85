"""The lab's objectives by loss kind (resolved once), and the seeded batches of a synthetic task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.data.synthetic import SyntheticTask
from unrolled.train.objective import StepResult


def _mse_last(out: Tensor, y: Tensor) -> Tensor:
    return F.mse_loss(out, y)  # out, y (B, 1)


def _ce_last(out: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(out, y)  # out (B, O), y (B,)


def _ce_steps(out: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(out.flatten(0, 1), y.flatten())  # (B T, O), (B T,): nats per step


LOSSES = {"mse_last": _mse_last, "ce_last": _ce_last, "ce_steps": _ce_steps}


class LabObjective:
    """``(model, (x, y), state) -> StepResult``: the task's loss (MSE or nats), counted per sequence."""

    def __init__(self, loss_kind: str):
        self.loss = LOSSES[loss_kind]

    def __call__(self, model: nn.Module, batch: Any, state: Any) -> StepResult:
        x, y = batch
        return StepResult(loss=self.loss(model(x), y), count=x.shape[0])


def accuracy(model: nn.Module, batches: list[tuple[Tensor, Tensor]], loss_kind: str) -> float | None:
    """Accuracy of a classification task (per sequence, or per step for ``ce_steps``); None for regression."""
    if loss_kind == "mse_last":
        return None
    hit = total = 0
    model.eval()
    with torch.no_grad():
        for x, y in batches:
            pred = model(x).argmax(-1)
            hit += int((pred == y).sum())
            total += y.numel()
    return hit / total


class SyntheticBatches:
    """``steps`` training batches of a synthetic task; batch i is drawn from its own seed, so any epoch position
    can be regenerated exactly (``iter_from``, used when a run resumes)."""

    def __init__(self, task: SyntheticTask, length: int, batch_size: int, steps: int, seed: int, split: str = "train"):
        self.task, self.length, self.batch_size, self.steps, self.seed = task, length, batch_size, steps, seed
        self.split = split

    def __len__(self) -> int:
        return self.steps

    def _batch(self, i: int) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        return self.task.batch(self.batch_size, self.length, g, split=self.split)

    def iter_from(self, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        return (self._batch(i) for i in range(start, self.steps))

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self.iter_from(0)
