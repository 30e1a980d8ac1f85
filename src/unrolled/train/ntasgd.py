r"""Non-monotonically triggered averaged SGD, NT-ASGD (Merity et al. 2018, sec. 3, Algorithm 1).

Plain SGD until the validation loss stops improving in a non-monotone sense: with the losses :math:`v_1 .. v_k`
of the validations so far and the new one :math:`v`, averaging starts when

.. math::
    k > n \quad\text{and}\quad v > \min(v_1, \dots, v_{k-n})

(``nonmono`` :math:`n = 5` in the paper). From then on the optimizer still takes SGD steps
:math:`\theta_t = \theta_{t-1} - \eta \nabla` but also keeps the running average of the iterates since the switch

.. math::
    \bar\theta = \frac{1}{t - T + 1} \sum_{i=T}^{t} \theta_i

(``torch.optim.ASGD`` with ``t0 = 0, lambd = 0``, as in the AWD-LSTM code), and the model is evaluated, and its best
weights saved, with :math:`\bar\theta`.

Two pieces, so that the :class:`~unrolled.train.Trainer` needs no change:

- :class:`NTASGD`, the optimizer (``TrainConfig.optimizer = "ntasgd"``): ``observe(valid_loss)`` applies the trigger;
  its switch, the trigger's history and the averages are in its ``state_dict`` (checkpoints resume exactly);
- :class:`AveragedEvaluation`, the callback that swaps :math:`\bar\theta` into the model for each validation pass
  (through :meth:`AveragedEvaluation.wrap`, the eval objective, on the pass's first batch) and the trained weights
  back in ``on_eval`` (which the trainer emits after saving the best weights), then feeds the loss to ``observe``.

Example::

    >>> cb = AveragedEvaluation()
    >>> trainer = Trainer(model, objective, TrainConfig(optimizer="ntasgd", lr=30, clip_norm=0.25),
    ...                   callbacks=[cb], eval_objective=cb.wrap(objective))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

__all__ = ["NONMONO", "AveragedEvaluation", "NTASGD"]

#: n of the non-monotone trigger (Merity et al. 2018)
NONMONO = 5


class NTASGD(torch.optim.Optimizer):
    """SGD that switches to averaging when :meth:`observe` sees the non-monotone trigger fire (see the module).

    Args:
        params: the parameters. lr: :math:`\\eta`. weight_decay: L2 coefficient added to the gradient.
        nonmono: :math:`n`, validations looked back over.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0, nonmono: int = NONMONO):
        if not lr > 0:
            raise ValueError(f"NTASGD: expected lr > 0, got {lr!r}")
        if isinstance(nonmono, bool) or not isinstance(nonmono, int) or nonmono < 1:
            raise ValueError(f"NTASGD: expected nonmono to be an int >= 1, got {nonmono!r}")
        defaults = {"lr": lr, "weight_decay": weight_decay, "nonmono": nonmono, "averaging": False, "history": []}
        super().__init__(params, defaults)

    @property
    def averaging(self) -> bool:
        """Whether the trigger has fired (the average is being kept)."""
        return bool(self.param_groups[0]["averaging"])

    def observe(self, valid_loss: float) -> bool:
        """Record a validation loss; start averaging if the trigger fires. Returns whether it fired now."""
        group = self.param_groups[0]
        history, n = group["history"], group["nonmono"]
        fired = not group["averaging"] and len(history) > n and valid_loss > min(history[:-n])
        history.append(float(valid_loss))
        if fired:
            for g in self.param_groups:
                g["averaging"] = True
        return fired

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                p.add_(grad, alpha=-group["lr"])
                if group["averaging"]:
                    state = self.state[p]
                    if "ax" not in state:
                        state["ax"] = p.detach().clone()
                        state["n"] = 1
                    else:
                        state["n"] += 1
                        state["ax"].add_(p - state["ax"], alpha=1.0 / state["n"])  # running mean of the iterates
        return loss

    def averaged(self) -> list[tuple[Tensor, Tensor]]:
        """``(parameter, average)`` for every parameter that has an average."""
        return [(p, self.state[p]["ax"]) for g in self.param_groups for p in g["params"] if "ax" in self.state[p]]


class AveragedEvaluation:
    """Trainer callback (and eval-objective wrapper) of NT-ASGD: validate with the averaged weights, feed the
    trigger. Does nothing when the trainer's optimizer is not an :class:`NTASGD`."""

    def __init__(self) -> None:
        self.optimizer: NTASGD | None = None
        self._saved: list[tuple[Tensor, Tensor]] | None = None

    def on_fit_start(self, trainer: Any) -> None:
        opt = trainer.optimizer
        self.optimizer = opt if isinstance(opt, NTASGD) else None

    def wrap(self, objective: Any) -> Any:
        """The eval objective: swaps the averages in before the pass's first batch, then calls ``objective``."""
        inner = getattr(objective, "evaluate_batch", None) or objective

        def evaluate(model: Any, batch: Any, state: Any) -> Any:
            self.swap_in()
            return inner(model, batch, state)

        return evaluate

    def swap_in(self) -> None:
        """Put the averaged weights into the model (no-op before the switch, or when already in)."""
        if self._saved is not None or self.optimizer is None or not self.optimizer.averaging:
            return
        pairs = self.optimizer.averaged()
        with torch.no_grad():
            self._saved = [(p, p.detach().clone()) for p, _ in pairs]
            for p, ax in pairs:
                p.copy_(ax)

    def swap_out(self) -> None:
        """Put the trained weights back."""
        if self._saved is None:
            return
        with torch.no_grad():
            for p, trained in self._saved:
                p.copy_(trained)
        self._saved = None

    def on_eval(self, trainer: Any, step: int, metrics: dict[str, Any]) -> None:
        self.swap_out()
        if self.optimizer is not None and self.optimizer.observe(metrics["loss"]):
            trainer.print(f"NT-ASGD: validation loss {metrics['loss']:.4f} triggered averaging at step {step}")

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        self.swap_out()
