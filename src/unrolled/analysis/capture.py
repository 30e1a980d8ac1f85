"""Capture every step of the recurrent layers of a model: the tensors gradient-flow diagnostics need.

:class:`~unrolled.layers.Recurrent` normally runs torch's fused kernel or the scan path, whose hidden states
:math:`h_t` are not separate nodes of the autograd graph. While a :class:`StepCapture` is active, every
Recurrent inside the model runs its generic loop over ``cell.step`` instead (same numbers, slower), and each call
of a cell's step is recorded: the projected input, the state before and the state after. On exit the layers get
their usual paths back, so a model pays nothing when no capture is active.

Records are grouped per cell (layer and direction, torch's order, Recurrent after Recurrent in ``model.modules()``
order), labelled ``"layer0"``, ``"layer0.reverse"``, ... (prefixed with the module's name when the model holds
several Recurrents). Each forward call of a Recurrent clears the records of its cells first. A reverse cell's
records run in its own order (from the last step back). Under ``lengths`` the records are the raw steps (before
a finished sequence's state is carried over).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, State
from unrolled.layers.recurrent import Recurrent

__all__ = ["CapturedCell", "StepCapture", "StepRecord"]


@dataclass
class StepRecord:
    """One step of one cell: ``state_out = cell.step(xp, state_in)[1]``. ``xp`` (B, G); states as the cell's."""

    xp: Tensor
    state_in: State
    state_out: State


@dataclass
class CapturedCell:
    """A cell of a Recurrent and the steps it took in the last forward call."""

    label: str
    cell: RecurrentCell
    steps: list[StepRecord] = field(default_factory=list)


def _clearer(cells: list[CapturedCell]):
    def clear(module: nn.Module, args: Any) -> None:  # a forward pre-hook: each call starts afresh
        for c in cells:
            c.steps.clear()

    return clear


class StepCapture:
    """Context manager recording every cell step of the Recurrent layers in ``model``.

    Args:
        model: any module holding :class:`~unrolled.layers.Recurrent` layers (or a Recurrent).
        on_step: optional callable ``(captured_cell, t, record)`` called after each step (e.g. to hook ``h_t``).
        keep: keep the records (default True); ``False`` only calls ``on_step``.

    Example::

        >>> with StepCapture(model) as cap:
        ...     loss = objective(model, batch)
        >>> h = [r.state_out for r in cap.cells[0].steps]   # h_1 .. h_T of layer 0
    """

    def __init__(self, model: nn.Module, on_step: Any = None, keep: bool = True):
        self.model, self.on_step, self.keep = model, on_step, keep
        named = model.named_modules()
        self.layers: list[tuple[str, Recurrent]] = [(n, m) for n, m in named if isinstance(m, Recurrent)]
        if not self.layers:
            raise ValueError(f"StepCapture: expected a model built on Recurrent, got {type(model).__name__}")
        self.cells: list[CapturedCell] = []
        self._saved: list[tuple[Recurrent, list[bool], list[bool]]] = []
        self._hooks: list[Any] = []
        self._previous: list[tuple[RecurrentCell, Any]] = []
        self.active = False

    def __enter__(self) -> StepCapture:
        several = len(self.layers) > 1
        for name, rec in self.layers:
            mine: list[CapturedCell] = []
            for i, cell in enumerate(rec.cells):
                label = f"layer{i // rec.num_directions}" + (".reverse" if i % rec.num_directions else "")
                captured = CapturedCell(f"{name}.{label}" if several and name else label, cell)
                mine.append(captured)
                self._previous.append((cell, cell.__dict__.get("step")))  # captures nest: restore what was there
                cell.step = self._wrap(captured)  # an instance attribute shadows the class's step while active
            self.cells += mine
            self._saved.append((rec, list(rec._fused), list(rec._scan)))
            rec._fused = [False] * len(rec._fused)  # the generic loop: every h_t is a node of the graph
            rec._scan = [False] * len(rec._scan)
            self._hooks.append(rec.register_forward_pre_hook(_clearer(mine)))
        self.active = True
        return self

    def _wrap(self, captured: CapturedCell):
        step = captured.cell.step  # the class's step, or an enclosing capture's wrapper

        def recording_step(xp_t: Tensor, state: State) -> tuple[Tensor, State]:
            y, new = step(xp_t, state)
            record = StepRecord(xp_t, state, new)
            if self.on_step is not None:
                self.on_step(captured, len(captured.steps), record)
            captured.steps.append(record)
            if not self.keep:
                captured.steps[-1] = StepRecord(xp_t[:0], (), ())  # keep the count, drop the tensors
            return y, new

        return recording_step

    def __exit__(self, *exc: object) -> None:
        for rec, fused, scan in self._saved:
            rec._fused, rec._scan = fused, scan
        for cell, previous in self._previous:
            if previous is None:
                cell.__dict__.pop("step", None)
            else:
                cell.__dict__["step"] = previous
        for h in self._hooks:
            h.remove()
        self._saved, self._hooks, self._previous, self.active = [], [], [], False
