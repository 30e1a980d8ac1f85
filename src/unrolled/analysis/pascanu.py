r"""The gradient-flow regulariser of Pascanu, Mikolov & Bengio 2013 (§3.3, eq. 9):

.. math::
    \Omega = \sum_t \Omega_t, \qquad
    \Omega_t = \left( \frac{\lVert \frac{\partial L}{\partial h_t} \frac{\partial h_t}{\partial h_{t-1}} \rVert}
                            {\lVert \frac{\partial L}{\partial h_t} \rVert} - 1 \right)^2

It asks every step's Jacobian to preserve the norm of the error signal travelling back through it, in the
direction that signal actually has. As in the paper, :math:`\partial L / \partial h_t` and :math:`h_{t-1}` are
held constant: only the parameters' direct effect on the step Jacobian is differentiated. There is one term per
step of each cell (its first step's Jacobian is taken with respect to the initial state), computed per sequence
and averaged over the batch; steps that the loss does not reach (:math:`\partial L / \partial h_t = 0`) count 0.
For a cell with a tuple state (LSTM) :math:`h_t` is its ``h`` part, the others (``c``) held fixed.

Pascanu et al. pair it with gradient-norm clipping: set ``clip_norm`` in the trainer's config as usual; the
regularised objective's gradient is clipped like any other.

Cost: one extra backward pass for :math:`\partial L / \partial h_t`, the steps recomputed in one batch of
:math:`T \cdot B` rows, and their double backward; the model runs its generic loop while regularised. With the
BN-LSTM in training the recomputed steps share batch statistics over all :math:`T \cdot B` rows (an
approximation).

Example::

    >>> objective = PascanuObjective(my_objective, weight=1.0)     # (model, batch, state) -> StepResult
    >>> Trainer(model, objective, TrainConfig(clip_norm=1.0)).fit(batches)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from unrolled.analysis.capture import CapturedCell, StepCapture
from unrolled.cells.base import replace_hidden, state_hidden
from unrolled.state import detach_state
from unrolled.train.objective import StepResult

__all__ = ["PascanuObjective", "pascanu_regularizer"]


def _stack_states(states: list[Any]) -> Any:
    if isinstance(states[0], Tensor):
        return torch.cat(states)
    return tuple(torch.cat(parts) for parts in zip(*states))


def _cell_omega(loss: Tensor, captured: CapturedCell, eps: float) -> Tensor:
    steps = captured.steps
    outs = [state_hidden(r.state_out) for r in steps]  # h_1 .. h_T, each (B, H)
    grads = torch.autograd.grad(loss, outs, retain_graph=True, allow_unused=True)
    g = torch.cat([torch.zeros_like(h) if d is None else d for d, h in zip(grads, outs)])  # (T B, H), constants
    prev = detach_state(_stack_states([r.state_in for r in steps]))  # h_{t-1} (T B, H), constants
    h_prev = state_hidden(prev).requires_grad_(True)
    xp = torch.cat([r.xp for r in steps])  # (T B, G), keeps the graph to the input weights
    _, new = type(captured.cell).step(captured.cell, xp, replace_hidden(prev, h_prev))
    (vjp,) = torch.autograd.grad(state_hidden(new), h_prev, grad_outputs=g, create_graph=True)  # (T B, H)
    g_norm = g.norm(dim=1)  # (T B,)
    reached = g_norm > 0
    ratio = vjp.norm(dim=1) / g_norm.clamp_min(eps)
    terms = torch.where(reached, (ratio - 1.0) ** 2, torch.zeros_like(ratio))  # (T B,)
    B = outs[0].shape[0]
    return terms.view(len(steps), B).mean(1).sum()


def pascanu_regularizer(loss: Tensor, capture: StepCapture, eps: float = 1e-12) -> Tensor:
    """:math:`\\Omega` summed over the cells of ``capture`` (active while the loss was computed).

    Args:
        loss: the scalar data loss, its graph through the captured steps still alive.
        capture: the :class:`~unrolled.analysis.capture.StepCapture` under which the model ran.
        eps: floor of :math:`\\lVert \\partial L / \\partial h_t \\rVert` in the ratio.

    Returns:
        a scalar tensor, differentiable in the cells' parameters.
    """
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        raise ValueError("pascanu_regularizer: expected a scalar loss tensor")
    terms = [_cell_omega(loss, c, eps) for c in capture.cells if c.steps]
    if not terms:
        raise ValueError("pascanu_regularizer: no recurrent step was captured; run the model inside the capture")
    return torch.stack(terms).sum()


class PascanuObjective:
    """Wrap an objective ``(model, batch, state) -> StepResult`` so that training adds ``weight * Omega``.

    Under ``torch.no_grad()`` (evaluation) it returns the wrapped objective's result unchanged, so validation
    losses stay comparable. The training loss the trainer reports then includes the penalty; :attr:`last_omega`
    holds the last value of :math:`\\Omega`.

    Args:
        objective: the data objective.
        weight: the coefficient of :math:`\\Omega` (Pascanu et al. 2013 tune it per task).
    """

    def __init__(self, objective: Any, weight: float = 1.0):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"PascanuObjective.weight: expected a number >= 0, got {weight!r}")
        self.objective, self.weight = objective, float(weight)
        self.last_omega: float | None = None

    def __call__(self, model: nn.Module, batch: Any, state: Any) -> StepResult:
        if not torch.is_grad_enabled() or self.weight == 0:
            return self.objective(model, batch, state)
        with StepCapture(model) as capture:
            result = self.objective(model, batch, state)
        omega = pascanu_regularizer(result.loss, capture)
        self.last_omega = float(omega.detach())
        return StepResult(loss=result.loss + self.weight * omega, count=result.count, state=result.state)
