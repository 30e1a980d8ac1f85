"""The generic time loop: any cell, one direction of one layer.

The input projection of every step is computed before the loop in one matrix product
(``cell.project_input`` on the whole (T, B, I) tensor); the loop then iterates the projected steps with
``unbind(0)`` (never ``xp[t]``, whose backward materialises a full-size zero gradient per step, see
shared notes on RNN speed) and calls ``cell.step`` (``cell.step_with_dropout`` under recurrent dropout). Extra
features (variable lengths, delay paths, recurrent dropout, zoneout, teacher forcing) each cost only when enabled,
and which of them are on is resolved before the loop, not tested at every step.

Under ``torch.autocast`` both loops run in the cell's parameter dtype with autocast off and return their outputs
in the autocast dtype, like every path of :class:`~unrolled.layers.Recurrent` (:mod:`unrolled.layers.precision`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.cells.base import RecurrentCell, State, state_hidden
from unrolled.layers.lengths import time_mask
from unrolled.layers.precision import float_recurrence
from unrolled.layers.regularization import zoneout_masks


@dataclass
class UnrollOptions:
    """What the loop must do besides calling the cell. All fields default to "off"."""

    lengths: Tensor | None = None  # (B,) or None when all sequences have length T
    delays: tuple[int, ...] = ()  # extra delay paths d > 1, each with a matrix in delay_weights
    delay_weights: tuple[Tensor, ...] = ()  # each (G, O)
    history: Tensor | None = None  # (B, max(delays), O): outputs y_{-dmax} .. y_{-1} before this chunk
    recurrent_mask: Tensor | None = None  # (B, O) variational dropout mask, see RecurrentCell.step_with_dropout
    zoneout: float = 0.0
    training: bool = False
    teacher: Tensor | None = None  # (T, B, O): values fed back in place of y_{t-1} (teacher forcing)


def _as_tuple(state: State) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


def _like(template: State, parts: tuple[Tensor, ...]) -> State:
    return parts[0] if isinstance(template, Tensor) else parts


@float_recurrence
def unroll_plain(cell: RecurrentCell, xp: Tensor, state: State) -> tuple[Tensor, State]:
    """The fast loop, no extra features: xp (T, B, G) -> outputs (T, B, O), final state."""
    step = cell.step
    outs = []
    for xp_t in xp.unbind(0):  # each (B, G)
        y, state = step(xp_t, state)
        outs.append(y)
    return torch.stack(outs), state  # (T, B, O)


def _zoneout_train(masks: tuple[Tensor, ...], old: tuple[Tensor, ...], new: tuple[Tensor, ...]):
    """Each unit keeps its previous value where its mask (this step's, drawn afresh per step) is True."""
    return tuple(torch.where(m, o, n) for m, o, n in zip(masks, old, new))


def _zoneout_eval(p: float, old: tuple[Tensor, ...], new: tuple[Tensor, ...]):
    """Evaluation: the expectation of the random update, (1 - p) new + p old."""
    return tuple(torch.lerp(n, o, p) for o, n in zip(old, new))


@float_recurrence
def unroll(cell: RecurrentCell, xp: Tensor, state: State, opt: UnrollOptions) -> tuple[Tensor, State, Tensor | None]:
    """Run ``cell`` over projected inputs ``xp`` (T, B, G) from ``state``.

    Returns outputs (T, B, O) (zero past each sequence's length), the final state (each sequence's state at its
    own last step) and the new delay history (B, dmax, O) or None.
    """
    T = xp.shape[0]
    lengths = opt.lengths
    valid = time_mask(lengths, T) if lengths is not None else None  # (T, B)
    first_masked = int(lengths.min()) if lengths is not None else T
    mask = opt.recurrent_mask
    step: Callable[[Tensor, State], tuple[Tensor, State]]
    if mask is None:
        step = cell.step
    else:

        def step(x_t: Tensor, s: State) -> tuple[Tensor, State]:
            return cell.step_with_dropout(x_t, s, mask)

    # zoneout (Krueger et al. 2017): per-step masks in training, the expectation in evaluation, or nothing
    zone_masks: list[tuple[Tensor, ...]] | None = None
    zone_eval = opt.zoneout > 0 and not opt.training
    if opt.zoneout > 0 and opt.training:
        drawn = zoneout_masks(T, [s.shape for s in _as_tuple(state)], opt.zoneout, xp)  # each (T, *part)
        zone_masks = list(zip(*(m.unbind(0) for m in drawn)))  # per step, one mask per state part
    outs: list[Tensor] = []
    hist = opt.history
    teacher = opt.teacher.unbind(0) if opt.teacher is not None else None
    for t, x_t in enumerate(xp.unbind(0)):
        for d, w in zip(opt.delays, opt.delay_weights):
            prev = outs[t - d] if t >= d else hist[:, t - d]  # y_{t-d}: (B, O)
            x_t = torch.addmm(x_t, prev, w.t())  # (B, G)
        carried = state  # what a finished sequence keeps: its own state, never a teacher-forced value
        if teacher is not None and t > 0:
            state = cell.force(state, teacher[t - 1])
        _, new = step(x_t, state)
        if zone_masks is not None:
            new = _like(new, _zoneout_train(zone_masks[t], _as_tuple(state), _as_tuple(new)))
        elif zone_eval:
            new = _like(new, _zoneout_eval(opt.zoneout, _as_tuple(state), _as_tuple(new)))
        if valid is not None and t >= first_masked:
            keep = valid[t].unsqueeze(1)  # (B, 1)
            new = _like(new, tuple(torch.where(keep, n, o) for o, n in zip(_as_tuple(carried), _as_tuple(new))))
        state = new
        outs.append(state_hidden(state))
    out = torch.stack(outs)  # (T, B, O)
    new_hist = None
    if hist is not None:
        dmax = hist.shape[1]
        full = torch.cat([hist.transpose(0, 1), out])  # (dmax + T, B, O)
        if lengths is None:
            new_hist = full[-dmax:].transpose(0, 1)  # (B, dmax, O)
        else:
            idx = lengths[None, :] + torch.arange(dmax, device=xp.device)[:, None]  # (dmax, B)
            new_hist = full.gather(0, idx.unsqueeze(-1).expand(-1, -1, full.shape[-1])).transpose(0, 1)
    if valid is not None:
        out = out * valid.unsqueeze(-1).to(out.dtype)
    return out, state, new_hist
