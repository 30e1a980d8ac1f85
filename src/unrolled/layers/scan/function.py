r"""The autograd Function of the scan path and :func:`scan`, its entry point."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.cells.base import RecurrentCell, State
from unrolled.layers.precision import autocast_off, float_recurrence
from unrolled.layers.scan.double import keeps_inputs, not_prepared_error
from unrolled.layers.scan.kernel import ScanKernel, Workspace
from unrolled.layers.scan.registry import SCAN_KERNELS, scan_kernel


@dataclass(frozen=True)
class Capture:
    """Where each sequence of a variable-length batch ends.

    Attributes:
        at: step t -> (B, 1) mask of the sequences whose last step is t.
        valid: (T, B, 1) mask of the steps inside each sequence.
        padding: (time, batch) indices of the steps past each end.
        first_padded: the first step past some sequence's end (min of the lengths).
    """

    at: dict[int, Tensor]
    valid: Tensor
    padding: tuple[Tensor, Tensor]
    first_padded: int


def capture_of(lengths: Tensor | None, T: int) -> Capture | None:
    """The :class:`Capture` of ``lengths`` (B,) in 1..T over T steps; None without lengths."""
    if lengths is None:
        return None
    last = lengths - 1
    at = {int(t): (last == t).unsqueeze(1) for t in torch.unique(last).tolist()}
    valid = torch.arange(T, device=lengths.device)[:, None] < lengths[None, :]  # (T, B)
    return Capture(at, valid.unsqueeze(-1), (~valid).nonzero(as_tuple=True), int(lengths.min()))


def _forward(kernel: ScanKernel, xp: Tensor, state0: tuple, P: tuple, capture: Capture | None, save: bool):
    """The forward loop: outputs (T, B, O), the final state and the workspace (saved buffers when ``save``).

    The steps run in chunks of ``kernel.chunk``; the per-step views of xp and of the outputs are made per chunk
    (and the kernel's own, in :meth:`~ScanKernel.begin_chunk`), so a call keeps a chunk's worth of view objects
    alive at a time, not T of each (fewer objects for Python's garbage collector to promote and walk).

    With ``capture`` the outputs, and the saved buffers, are zeroed past each sequence's end once the loop is
    done: whatever the padded steps computed (inf or NaN after long padding, NaN padded inputs) is never
    returned and never enters a gradient sum of the backward."""
    T, B = xp.shape[0], xp.shape[1]
    ws = kernel.workspace(xp, state0, P, save)
    out = xp.new_empty(T, B, kernel.output_size)
    state, final = state0, None
    fstep, chunk = kernel.fstep, kernel.chunk
    ends = capture.at if capture is not None else {}
    for t0 in range(0, T, chunk):
        t1 = min(t0 + chunk, T)
        kernel.begin_chunk(ws, t0, t1)
        for t, xp_t, out_t in zip(range(t0, t1), xp[t0:t1].unbind(0), out[t0:t1].unbind(0)):
            state = fstep(t, xp_t, state, ws, out_t)
            if t in ends:
                m = ends[t]
                prev = final if final is not None else tuple(torch.zeros_like(s) for s in state)
                final = tuple(torch.where(m, s, f) for s, f in zip(state, prev))
        kernel.end_chunk(ws, t0, t1)
    if final is None:
        final = tuple(s.clone() for s in state)
    if save:
        kernel.pack(ws)
    if capture is not None:
        zero = out.new_zeros(())
        for buf in (out, *(ws[key] for key in kernel.saved_keys if save)):
            buf.index_put_(capture.padding, zero)
    return out, final, ws


def _reference(kernel: ScanKernel, xp: Tensor, state0: tuple, P: tuple, capture: Capture | None):
    """What :func:`_forward` computes, as a differentiable loop over ``kernel.reference_step(P)``: outputs zero
    and the state held past each sequence's end, padded inputs zeroed (so nothing non-finite is recorded)."""
    step = kernel.reference_step(P)
    if capture is not None:
        xp = xp.masked_fill(~capture.valid, 0.0)
    state, outs = tuple(state0), []
    for t, xp_t in enumerate(xp.unbind(0)):
        y, new = step(xp_t, state)
        if capture is not None and t >= capture.first_padded:
            keep = capture.valid[t]  # (B, 1)
            new = tuple(torch.where(keep, n, s) for n, s in zip(new, state))
            y = torch.where(keep, y, 0.0)
        outs.append(y)
        state = new
    return torch.stack(outs), state


class _ScanFunction(torch.autograd.Function):
    """Inputs: kernel, capture, n_state, xp (T, B, G), the state parts, ``kernel.params``; outputs: (T, B, O),
    the final state parts. Backward: the kernel's hand-written BPTT; with ``create_graph=True``, autograd
    through :func:`_reference` instead (its result is differentiable again). Both with autocast off, like the
    forward (:mod:`unrolled.layers.precision`), whatever the autocast of the thread calling ``backward()``."""

    @staticmethod
    def forward(ctx, kernel: ScanKernel, capture, n_state: int, xp: Tensor, *tensors):
        state0, P = tensors[:n_state], tensors[n_state:]
        out, final, ws = _forward(kernel, xp, state0, P, capture, save=True)
        ctx.kernel, ctx.capture, ctx.n_state, ctx.n_params = kernel, capture, n_state, len(P)
        ctx.keys, ctx.device_type = kernel.saved_keys, xp.device.type
        kept = xp if keeps_inputs() else None  # only a double backward reads xp (see double.py)
        ctx.save_for_backward(kept, *state0, *P, out, *(ws[k] for k in kernel.saved_keys))
        ctx.set_materialize_grads(False)
        return (out, *final)

    @staticmethod
    def backward(ctx, dout, *dfinal):
        with autocast_off(ctx.device_type):  # the recurrence's dtype, as in the forward
            if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable itself
                return _backward_by_recomputation(ctx, dout, dfinal)
            return _backward(ctx, dout, dfinal)


def _backward(ctx, dout: Tensor | None, dfinal: tuple) -> tuple:
    """The Function's first-order gradients: the kernel's hand-written BPTT."""
    kernel, n, nP = ctx.kernel, ctx.n_state, ctx.n_params
    saved = ctx.saved_tensors
    state0, P, out = saved[1 : 1 + n], saved[1 + n : 1 + n + nP], saved[1 + n + nP]
    ws: Workspace = dict(zip(ctx.keys, saved[2 + n + nP :]))
    ws["P"] = P
    T = out.shape[0]
    capture = ctx.capture
    if capture is not None and dout is not None:  # outputs past each end are constant zeros
        dout = dout.index_put(capture.padding, dout.new_zeros(()))
    needs = ctx.needs_input_grad
    ws["needs"] = needs[4 + n :]  # which of the kernel's params need a gradient
    kernel.begin_backward(ws, state0, out)
    ends = capture.at if capture is not None else {T - 1: None}
    dh: Tensor = dout[T - 1] if dout is not None else torch.zeros_like(state0[0])
    drest = tuple(torch.zeros_like(s) for s in state0[1:])
    chunk = kernel.chunk
    dprev, lo = (), 0
    for t in range(T - 1, -1, -1):
        if t == T - 1 or t % chunk == chunk - 1:  # entering the chunk of steps t0..t
            ws["t0"] = t0 = t - t % chunk
            kernel.factors(ws, state0, out, t0, t + 1)
            if dout is not None:  # dL/dy_{t-1} for the chunk's steps, as views made per chunk
                lo = max(t0 - 1, 0)
                dprev = dout[lo:t].unbind(0)
        if t in ends:
            m = ends[t]
            m = None if m is None else m.to(dh.dtype)
            inject = [None if d is None else (d if m is None else d * m) for d in dfinal]
            grads = tuple(g if d is None else g + d for g, d in zip((dh, *drest), inject))
            dh, drest = grads[0], grads[1:]
        dh, drest = kernel.bstep(t, dh, drest, dprev[t - 1 - lo] if dprev and t > 0 else None, ws)
    dxp, dP = kernel.finish(ws, state0, out, needs[4 + n :])
    dstate0 = tuple(g if need else None for g, need in zip((dh, *drest), needs[4 : 4 + n]))
    return (None, None, None, dxp if needs[3] else None, *dstate0, *dP)


def _backward_by_recomputation(ctx, dout: Tensor | None, dfinal: tuple) -> tuple:
    """The Function's gradients as autograd of :func:`_reference` on the saved inputs, with ``create_graph``."""
    saved = ctx.saved_tensors
    if saved[0] is None:  # the forward ran outside double_backward(): xp was not kept
        raise not_prepared_error()
    inputs = saved[: 1 + ctx.n_state + ctx.n_params]  # xp, state0, P
    return recomputed_gradients(ctx.kernel, ctx.capture, ctx.n_state, inputs, ctx.needs_input_grad[3:], dout, dfinal)


def recomputed_gradients(
    kernel: ScanKernel, capture, n_state: int, inputs: tuple, needs: tuple, dout: Tensor | None, dfinal: tuple
) -> tuple:
    """Gradients w.r.t. ``inputs`` = (xp, *state0, *P) as autograd of :func:`_reference` with ``create_graph``
    (differentiable again): the double backward of the scan path and of every path sharing its contract (the
    Triton kernels). ``needs``: which of ``inputs`` want a gradient. Returns the Function's gradient tuple (three
    leading ``None`` for kernel, capture and n_state)."""
    xp, state0, P = inputs[0], inputs[1 : 1 + n_state], inputs[1 + n_state :]
    with torch.enable_grad():
        out, final = _reference(kernel, xp, state0, P, capture)
    pairs = [(y, g) for y, g in zip((out, *final), (dout, *dfinal)) if g is not None and y.requires_grad]
    wanted = [k for k, need in enumerate(needs) if need]
    grads: list[Tensor | None] = [None] * len(inputs)
    if pairs and wanted:
        ys, gs = zip(*pairs)
        found = torch.autograd.grad(ys, [inputs[k] for k in wanted], gs, create_graph=True, allow_unused=True)
        for k, g in zip(wanted, found):
            grads[k] = g
    return (None, None, None, *grads)


def _as_tuple(state: State) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


def check_lengths(lengths: Tensor | None, T: int, B: int, who: str) -> None:
    """One-line ``ValueError`` unless ``lengths`` is None or a (B,) integer tensor in 1..T (``who``: the caller's
    name in the message). Shared by every path with the scan contract."""
    if lengths is None:
        return
    if lengths.shape != (B,) or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(
            f"{who} expected lengths as a ({B},) integer tensor, got shape {tuple(lengths.shape)} and dtype "
            f"{lengths.dtype}"
        )
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > T:
        raise ValueError(f"{who} expected lengths in 1..T = 1..{T}, got min {lo} and max {hi}")


@float_recurrence
def scan(cell: RecurrentCell, xp: Tensor, state: State, lengths: Tensor | None = None) -> tuple:
    r"""Run ``cell`` over projected inputs with the hand-written BPTT backward.

    Computes what the generic loop computes (``cell.step`` at every step, from ``state``), faster: see
    :mod:`unrolled.layers.scan`. With gradients off (``torch.no_grad()`` or nothing requiring grad) it runs a
    plain loop and keeps no workspace. The backward is differentiable (``create_graph=True``, e.g. gradient
    penalties): it then recomputes the forward as a loop over ``cell.step`` and differentiates that. Under
    ``torch.autocast`` the recurrence runs in the parameters' dtype with autocast off and the outputs are
    returned in the autocast dtype, the final state in the parameters' (:mod:`unrolled.layers.precision`).

    Args:
        cell: a cell with a scan kernel (:func:`supports_scan`).
        xp: ``cell.project_input(x)``, (T, B, G).
        state: the initial state (as ``cell.init_state``).
        lengths: optional (B,) integer tensor in 1..T. The final state is each sequence's state at its own last
            step ``lengths[b] - 1``, the outputs past each end are zero, and nothing past an end (even NaN or
            inf) reaches the outputs, the final state or any gradient.

    Shape:
        - xp: (T, B, G); output: (T, B, O); state: as the cell's.

    Example::

        >>> cell = LSTMCell(8, 16)
        >>> x = torch.randn(5, 3, 8)
        >>> y, (h, c) = scan(cell, cell.project_input(x), cell.init_state(3))
    """
    kernel = scan_kernel(cell)
    if kernel is None:
        raise ValueError(
            f"{type(cell).__name__} with these options has no scan kernel; expected one of "
            f"{sorted(c.__name__ for c in SCAN_KERNELS)} (LSTM without projection)"
        )
    if xp.dim() != 3 or xp.shape[-1] != cell.projected_size:
        G = cell.projected_size
        raise ValueError(f"scan expected projected inputs (T, B, {G}), got {tuple(xp.shape)}")
    T, B = xp.shape[0], xp.shape[1]
    check_lengths(lengths, T, B, "scan")
    xp = kernel.prepare(cell, xp).contiguous()
    parts = _as_tuple(state)
    P = kernel.params(cell)
    capture = capture_of(lengths, T)
    inputs = (xp, *parts, *(p for p in P if p is not None))
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        out, *final = _ScanFunction.apply(kernel, capture, len(parts), xp, *parts, *P)
    else:
        out, final, _ = _forward(kernel, xp, parts, P, capture, save=False)
    return out, final[0] if isinstance(state, Tensor) else tuple(final)
