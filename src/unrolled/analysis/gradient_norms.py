r"""Per-timestep gradient norms :math:`\lVert \partial L / \partial h_t \rVert`: the vanishing / exploding picture.

:math:`\partial L / \partial h_t` is the *total* derivative of the loss with respect to the hidden state of step
t (through the output at t and through every later step), what backpropagation through time carries back. For a
plain RNN it shrinks (or grows) geometrically with the distance to the loss (Bengio et al. 1994; Pascanu et al.
2013); gated cells keep it alive.

:class:`GradientNormRecorder` measures it with tensor hooks on each :math:`h_t` while switched on (the model then
runs its generic loop, see :mod:`unrolled.analysis.capture`); switched off, the model is untouched and trains at
full speed. :class:`GradientNormCallback` switches it on every ``every`` training steps of a
:class:`~unrolled.train.Trainer` and keeps the history.

The norm reported for step t is the Frobenius norm of the (B, H) gradient of the loss with respect to the batch's
:math:`h_t` (for an LSTM :math:`h_t`, not :math:`c_t`).

Example::

    >>> rec = GradientNormRecorder(model)
    >>> with rec:
    ...     loss = criterion(model(x)[0][:, -1], y)
    ...     loss.backward()
    >>> rec.norms()["layer0"]          # (T,) tensor: ||dL/dh_1|| .. ||dL/dh_T||
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from unrolled.analysis.capture import CapturedCell, StepCapture, StepRecord
from unrolled.cells.base import state_hidden

__all__ = ["GradientNormCallback", "GradientNormRecorder"]


class GradientNormRecorder:
    """Records :math:`\\lVert \\partial L / \\partial h_t \\rVert` per cell and step while on.

    Args:
        model: a module holding :class:`~unrolled.layers.Recurrent` layers.

    Use as a context manager (on inside, off outside) or with :meth:`enable` / :meth:`disable`.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self._capture: StepCapture | None = None
        self._norms: dict[str, dict[int, Tensor]] = {}

    @property
    def on(self) -> bool:
        return self._capture is not None

    def enable(self) -> None:
        if self._capture is None:
            self._capture = StepCapture(self.model, on_step=self._hook, keep=False).__enter__()

    def disable(self) -> None:
        if self._capture is not None:
            self._capture.__exit__(None, None, None)
            self._capture = None

    def __enter__(self) -> GradientNormRecorder:
        self.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disable()

    def _hook(self, captured: CapturedCell, t: int, record: StepRecord) -> None:
        h = state_hidden(record.state_out)  # (B, H)
        if not h.requires_grad:
            return
        if t == 0:
            self._norms[captured.label] = {}
        store = self._norms.setdefault(captured.label, {})

        def keep(grad: Tensor) -> None:
            store[t] = grad.detach().norm()

        h.register_hook(keep)

    def norms(self) -> dict[str, Tensor]:
        """Per cell label, the (T,) norms of the last backward pass (0 where no gradient reached a step)."""
        out = {}
        for label, store in self._norms.items():
            if store:
                T = max(store) + 1
                out[label] = torch.stack([store.get(t, torch.zeros(())) for t in range(T)]).float()
        return out

    def clear(self) -> None:
        self._norms = {}


class GradientNormCallback:
    """A :class:`~unrolled.train.Trainer` callback: record the gradient norms of every ``every``-th training step.

    Args:
        recorder: the :class:`GradientNormRecorder` of the trained model.
        every: record steps 1, every + 1, 2 every + 1, ... (the recorder is off for the others).

    ``history`` holds ``(step, {label: (T,) norms})`` pairs.
    """

    def __init__(self, recorder: GradientNormRecorder, every: int = 50):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"GradientNormCallback.every: expected an int >= 1, got {every!r}")
        self.recorder, self.every = recorder, every
        self.history: list[tuple[int, dict[str, Tensor]]] = []

    def on_fit_start(self, trainer: Any) -> None:
        self.recorder.enable()

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, Any]) -> None:
        if self.recorder.on:
            norms = self.recorder.norms()
            if norms:
                self.history.append((step, norms))
            self.recorder.clear()
        if step % self.every == 0:
            self.recorder.enable()
        else:
            self.recorder.disable()

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        self.recorder.disable()
