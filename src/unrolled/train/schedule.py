"""Learning-rate schedules: ``TrainConfig.schedule`` names resolved once, wrapping ``torch.optim.lr_scheduler``.

With :math:`\\eta_0` = ``lr``, :math:`d` = ``lr_decay`` and :math:`c` = completed epochs:

- ``constant``: :math:`\\eta = \\eta_0`.
- ``step``: :math:`\\eta = \\eta_0 / d^{n(c)}` with :math:`n(c) = 0` for :math:`c < s` and
  :math:`n(c) = \\lfloor (c - s) / k \\rfloor + 1` otherwise, where :math:`k` = ``lr_step_epochs`` and
  :math:`s` = ``lr_decay_start`` (epochs at the initial rate, default :math:`k`). Zaremba et al. (2014, "Recurrent
  neural network regularization"), small PTB model: ``lr=1, lr_decay=2, lr_decay_start=4, lr_step_epochs=1``.
  Stepped at each epoch end (``LambdaLR``).
- ``cosine``: :math:`\\eta = \\eta_{min} + (\\eta_0 - \\eta_{min})(1 + \\cos(\\pi c / E)) / 2` over ``epochs``
  :math:`E` (Loshchilov & Hutter 2017, without restarts), stepped at each epoch end (``CosineAnnealingLR``).
- ``plateau``: divide :math:`\\eta` by :math:`d` when the validation loss has not improved by more than
  ``min_delta`` for more than ``lr_patience`` evaluations (``ReduceLROnPlateau`` with ``factor = 1/d``); stepped after
  each validation. ``lr_decay=4, lr_patience=0`` is the rule of the PyTorch ``word_language_model`` example for
  Zaremba-style LSTM language models.

Every rate is floored at ``min_lr``. Each schedule exposes ``on_epoch_end()``, ``on_eval(valid_loss)``,
``state_dict()`` and ``load_state_dict()``; the trainer calls both hooks and each schedule reacts to its own.

Example::

    >>> from unrolled.train import TrainConfig
    >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = build_schedule(opt, TrainConfig(lr=1.0, schedule="plateau", lr_decay=4.0))
    >>> sched.on_eval(5.0); sched.on_eval(5.1); opt.param_groups[0]["lr"]
    0.25
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import lr_scheduler

if TYPE_CHECKING:
    from unrolled.train.config import TrainConfig

__all__ = ["SCHEDULES", "ConstantSchedule", "EpochSchedule", "PlateauSchedule", "build_schedule"]


class ConstantSchedule:
    """Keeps the learning rate fixed."""

    needs_validation = False

    def on_epoch_end(self) -> None:
        pass

    def on_eval(self, valid_loss: float) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EpochSchedule:
    """Steps a ``torch.optim.lr_scheduler.LRScheduler`` once per completed epoch."""

    needs_validation = False

    def __init__(self, scheduler: lr_scheduler.LRScheduler) -> None:
        self.scheduler = scheduler

    def on_epoch_end(self) -> None:
        self.scheduler.step()

    def on_eval(self, valid_loss: float) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


class PlateauSchedule:
    """Steps a ``ReduceLROnPlateau`` with each validation loss."""

    needs_validation = True

    def __init__(self, scheduler: lr_scheduler.ReduceLROnPlateau) -> None:
        self.scheduler = scheduler

    def on_epoch_end(self) -> None:
        pass

    def on_eval(self, valid_loss: float) -> None:
        self.scheduler.step(valid_loss)

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


def _step_factor(config: TrainConfig) -> Callable[[int], float]:
    every = config.lr_step_epochs
    start = every if config.lr_decay_start is None else config.lr_decay_start

    def factor(completed: int) -> float:
        decays = 0 if completed < start else (completed - start) // every + 1
        return max(config.lr_decay**-decays, config.min_lr / config.lr)

    return factor


def _plateau(optimizer: torch.optim.Optimizer, config: TrainConfig) -> PlateauSchedule:
    return PlateauSchedule(
        lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=1.0 / config.lr_decay,
            patience=config.lr_patience,
            threshold=config.min_delta,
            threshold_mode="abs",
            min_lr=config.min_lr,
            eps=0.0,
        )
    )


SCHEDULES: dict[str, Callable[[torch.optim.Optimizer, TrainConfig], Any]] = {
    "constant": lambda opt, c: ConstantSchedule(),
    "step": lambda opt, c: EpochSchedule(lr_scheduler.LambdaLR(opt, _step_factor(c))),
    "cosine": lambda opt, c: EpochSchedule(lr_scheduler.CosineAnnealingLR(opt, T_max=c.epochs, eta_min=c.min_lr)),
    "plateau": _plateau,
}


def build_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Any:
    """Build the schedule named by ``config.schedule`` for ``optimizer``."""
    if config.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {config.schedule!r}; expected one of {', '.join(SCHEDULES)}")
    return SCHEDULES[config.schedule](optimizer, config)
