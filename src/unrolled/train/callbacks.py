"""Callbacks: hooks into the training loop (e.g. printing generated samples as a language model trains).

A callback is any object with some of the methods of :class:`Callback`; missing methods are skipped, so a plain
class with only ``on_eval`` works. Hooks run on every rank under distributed training (use ``trainer.is_main``
to act once) and receive the trainer itself, whose ``model`` (the unwrapped module), ``optimizer`` and
``print()`` (which prints above the progress bar) they may use. ``trainer.request_stop(reason)`` ends training
after the current step. The ``metrics`` dicts hold plain Python numbers:

- ``on_step_end``: ``step, epoch, batch, loss, count, lr, grad_norm`` (``None`` when not computed this step)
  and the configured metric (``ppl`` / ``bpc``);
- ``on_eval``: ``step, epoch, loss`` and the metric of the validation pass, and ``improved`` (bool);
- ``on_epoch_end``: ``step, epoch, train_loss, valid_loss, lr``.

Example::

    >>> class PrintSample(Callback):
    ...     def on_eval(self, trainer, step, metrics):
    ...         if trainer.is_main:
    ...             trainer.print(f"step {step}: " + generate(trainer.model, "The "))
"""

from __future__ import annotations

from typing import Any

__all__ = ["Callback"]


class Callback:
    """Base class with no-op hooks; override the ones you need."""

    def on_fit_start(self, trainer: Any) -> None:
        """Called once when ``fit`` starts (after a resume, if any)."""

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, Any]) -> None:
        """Called after each optimizer step."""

    def on_eval(self, trainer: Any, step: int, metrics: dict[str, Any]) -> None:
        """Called after each validation pass."""

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, Any]) -> None:
        """Called after each epoch (after validation and the schedule step, before the checkpoint)."""

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        """Called once when ``fit`` returns (not when it raises)."""
