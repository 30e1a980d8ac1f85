"""What every synthetic long-term-dependency task states: its input/output sizes, its loss kind and its chance level.

A task draws batches ``(x, y)`` from a seeded ``torch.Generator``; the same seed gives the same batch. Loss kinds
(:data:`LOSS_KINDS`) say how a model's per-step outputs are scored:

* ``"mse_last"``: mean squared error of the output at the last step against ``y`` (B, 1), e.g. the adding problem;
* ``"ce_last"``: cross-entropy (nats) of the logits at the last step against class indices ``y`` (B,);
* ``"ce_steps"``: cross-entropy (nats per step) of the logits at every step against ``y`` (B, T'), T' the
  sequence length of ``x``.

The *chance baseline* is the loss of the best predictor that ignores the long-term dependency (e.g. always
predicting the mean for the adding problem: MSE = Var(target) = 1/6). A model "beats chance by 10x" when its loss
is below a tenth of the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

LOSS_KINDS = ("mse_last", "ce_last", "ce_steps")


def check_length(task: str, length: object, minimum: int) -> int:
    """``length`` as an int >= ``minimum``, or a one-line ValueError naming the task."""
    if isinstance(length, bool) or not isinstance(length, int) or length < minimum:
        raise ValueError(f"task {task!r}: expected a length (T) that is an integer >= {minimum}, got {length!r}")
    return length


def check_count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"expected a batch size (B) that is an integer >= 1, got {n!r}")
    return n


@dataclass(frozen=True)
class SyntheticTask:
    """Base class of the synthetic tasks. Subclasses set the fields and implement :meth:`batch`.

    Args:
        name: the registry name.
        description: one line, with the reference.
        loss: one of :data:`LOSS_KINDS`.
        input_size: I, features per step.
        output_size: O, outputs per step the model must produce (1 for regression, the classes otherwise).
        min_length: the smallest length T the task accepts.
        fixed_lengths: the only lengths accepted (sequential digits: 8 or 64), or empty for any length.
    """

    name: str = ""
    description: str = ""
    loss: str = "mse_last"
    input_size: int = 1
    output_size: int = 1
    min_length: int = 2
    fixed_lengths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"SyntheticTask.loss: expected one of {LOSS_KINDS}, got {self.loss!r}")

    def check_length(self, length: object) -> int:
        """The length T, checked: a one-line ValueError unless the task accepts it."""
        if self.fixed_lengths:
            if length not in self.fixed_lengths or isinstance(length, bool):
                raise ValueError(f"task {self.name!r}: expected a length (T) in {self.fixed_lengths}, got {length!r}")
            return int(length)  # type: ignore[arg-type]
        return check_length(self.name, length, self.min_length)

    def baseline(self, length: int) -> float:
        """The chance-level loss at length T (see the module docstring)."""
        raise NotImplementedError

    def baseline_text(self) -> str:
        """The chance level as a formula, for ``unrolled lab --list``."""
        raise NotImplementedError

    def input_features(self, length: int) -> int:
        """I at length T (the same for every T except sequential digits read row by row)."""
        return self.input_size

    def sequence_length(self, length: int) -> int:
        """The number of steps of ``x`` for task length T (copy-memory adds 20)."""
        return length

    def batch(self, n: int, length: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        """``n`` examples of length T: ``x`` (B, T', I) float32 and ``y`` (see the loss kind)."""
        raise NotImplementedError
