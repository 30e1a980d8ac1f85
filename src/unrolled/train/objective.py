"""The contract between the trainer and a task: an objective turns (model, batch, state) into a loss.

The trainer knows nothing about models or data formats. A task supplies an :class:`Objective`, a callable

.. math::

    (\\text{model}, \\text{batch}, \\text{state}) \\mapsto (\\bar\\ell, n, \\text{state}')

where :math:`\\bar\\ell` is the mean loss over the :math:`n` units the batch counts (tokens for a language model,
examples for a classifier) and :math:`\\text{state}'` is the recurrent state to hand to the next batch. Because
every step reports :math:`n`, epoch and validation means are exact token-weighted means
:math:`\\sum_b \\bar\\ell_b n_b / \\sum_b n_b`, whatever the batch sizes.

Example (a language model over ``(x, y)`` batches of shape :math:`(B, T)`)::

    >>> def lm_objective(model, batch, state):
    ...     x, y = batch
    ...     logits, state = model(x, state)                        # (B, T, V)
    ...     loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    ...     return StepResult(loss=loss, count=y.numel(), state=state)

For evaluation the trainer calls the same objective (or ``eval_objective``) under ``torch.no_grad()`` with the model
in ``eval()`` mode. Under distributed training the model passed in is the ``DistributedDataParallel`` wrapper:
call it (``model(...)``), not methods of the wrapped module, so that gradients are synchronised.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["Objective", "StepResult"]


@dataclass
class StepResult:
    """What an objective returns for one batch.

    Args:
        loss: scalar tensor, the mean loss over the counted units (nats per token for a language model); it must
            carry the graph when training.
        count: number of units (tokens / examples) the loss averages over, an ``int >= 1``.
        state: recurrent state to carry into the next batch, or ``None`` when the model is stateless.

    Shape:
        - loss: :math:`()`, a scalar.
        - state: whatever the model takes back, e.g. :math:`(L, B, H)` for a GRU or a tuple of two such tensors
          for an LSTM (nested tuples / lists / dicts of tensors, see :mod:`unrolled.state`).

    Example::

        >>> StepResult(loss=torch.tensor(4.6), count=20 * 35, state=h)   # B=20 streams, T=35 steps
    """

    loss: torch.Tensor
    count: int
    state: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.loss, torch.Tensor) or self.loss.dim() != 0:
            shape = tuple(self.loss.shape) if isinstance(self.loss, torch.Tensor) else type(self.loss).__name__
            raise TypeError(f"StepResult.loss: expected a scalar (0-dim) tensor, got {shape}")
        if isinstance(self.count, bool) or not isinstance(self.count, numbers.Integral) or self.count < 1:
            raise ValueError(
                f"StepResult.count: expected an int >= 1 (units the loss averages over), got {self.count!r}"
            )
        self.count = int(self.count)


@runtime_checkable
class Objective(Protocol):
    """Callable ``(model, batch, state) -> StepResult``; see the module docstring."""

    def __call__(self, model: nn.Module, batch: Any, state: Any) -> StepResult: ...
