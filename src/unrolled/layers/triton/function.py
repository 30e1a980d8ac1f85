r"""The autograd Function of the Triton path and :func:`run_triton`, its entry point."""

from __future__ import annotations

import torch
from torch import Tensor

from unrolled.cells.base import RecurrentCell, State
from unrolled.layers.precision import autocast_off, float_recurrence
from unrolled.layers.scan.function import capture_of, check_lengths, recomputed_gradients
from unrolled.layers.triton.kernel import TritonKernel, interpreting
from unrolled.layers.triton.registry import TRITON_KERNELS, triton_kernel


class _TritonFunction(torch.autograd.Function):
    """Inputs: kernel, capture, lengths, xp (T, B, G), the initial state parts, the kernel's params; outputs:
    (T, B, H) (zero past each end) and the final state parts. Backward: the kernel's fused BPTT; with
    ``create_graph=True``, autograd through the scan path's differentiable reference loop instead. Both with
    autocast off, like the forward (:mod:`unrolled.layers.precision`)."""

    @staticmethod
    def forward(ctx, kernel: TritonKernel, capture, lengths, xp: Tensor, *tensors):
        n = kernel.n_state
        state0, P = tensors[:n], tensors[n:]
        hs, saved = kernel.forward(xp, state0, P, lengths)  # (T, B, H), held past each end
        out = hs if capture is None else hs.masked_fill(~capture.valid, 0.0)  # (T, B, H)
        finals = kernel.finals(hs, saved)  # each sequence's state at its own last step
        ctx.kernel, ctx.capture, ctx.lengths, ctx.n_params = kernel, capture, lengths, len(P)
        ctx.device_type = xp.device.type
        ctx.save_for_backward(xp, *state0, *P, hs, *saved)
        ctx.set_materialize_grads(False)
        return (out, *finals)

    @staticmethod
    def backward(ctx, dout, *dfinal):
        with autocast_off(ctx.device_type):  # the recurrence's dtype, as in the forward
            if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable itself
                return _backward_by_recomputation(ctx, dout, dfinal)
            return _backward(ctx, dout, dfinal)


def _backward(ctx, dout: Tensor | None, dfinal: tuple) -> tuple:
    """The Function's first-order gradients: the kernel's fused BPTT."""
    n, nP = ctx.kernel.n_state, ctx.n_params
    saved = ctx.saved_tensors
    state0, P = saved[1 : 1 + n], saved[1 + n : 1 + n + nP]
    hs, extra = saved[1 + n + nP], saved[2 + n + nP :]
    needs = ctx.needs_input_grad
    dxp, dstate0, dP = ctx.kernel.backward(dout, dfinal, state0, P, hs, extra, ctx.lengths, needs[4 + n :])
    dstate0 = tuple(g if need else None for g, need in zip(dstate0, needs[4 : 4 + n]))
    return (None, None, None, dxp if needs[3] else None, *dstate0, *dP)


def _backward_by_recomputation(ctx, dout: Tensor | None, dfinal: tuple) -> tuple:
    """The Function's gradients as autograd of the scan path's reference loop, with ``create_graph``."""
    inputs = ctx.saved_tensors[: 1 + ctx.kernel.n_state + ctx.n_params]  # xp, state0, P
    return recomputed_gradients(
        ctx.kernel.scan, ctx.capture, ctx.kernel.n_state, inputs, ctx.needs_input_grad[3:], dout, dfinal
    )


def _as_tuple(state: State) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


@float_recurrence
def run_triton(cell: RecurrentCell, xp: Tensor, state: State, lengths: Tensor | None = None) -> tuple:
    r"""Run ``cell`` over projected inputs with the fused Triton kernels: the same contract as
    :func:`~unrolled.layers.scan.scan`.

    The input projection ``xp = cell.project_input(x)`` is one product over all T before (autograd carries
    ``dxp`` through it to ``weight_ih``, the biases and ``x``). The forward is one kernel launch: each program
    owns a block of the batch and runs all T steps, the recurrent weights on chip, the recurrent product and the
    step's pointwise math fused (FlashRNN, Pöppel et al. 2024). The backward is one launch over all T steps
    backwards, then :math:`\partial L / \partial W_{hh} = \sum_t \delta A_t^\top h_{t-1}` as one product. The
    parameters are the cell's own. Double backward (``create_graph=True``) differentiates the scan path's
    reference loop. Under ``torch.autocast`` the kernels run in float32 with autocast off and the outputs are
    returned in the autocast dtype, the final state in float32 (:mod:`unrolled.layers.precision`).

    Args:
        cell: a cell with a Triton kernel (:data:`TRITON_KERNELS`).
        xp: ``cell.project_input(x)``, (T, B, G), float32 (any dtype under autocast), on a CUDA device (or the CPU under
            ``TRITON_INTERPRET=1``).
        state: the initial state, as ``cell.init_state`` ((B, H), or (h, c) for the LSTM).
        lengths: optional (B,) integer tensor in 1..T: the final state is each sequence's state at its own last
            step, the outputs past each end are zero and nothing there reaches a gradient.

    Shape:
        - xp: (T, B, G); output: (T, B, H); state: as the cell's.

    Example::

        >>> cell = ElmanCell(8, 16).cuda()
        >>> x = torch.randn(5, 3, 8, device="cuda")
        >>> y, h = run_triton(cell, cell.project_input(x), cell.init_state(3, "cuda"))
    """
    kernel = triton_kernel(cell)
    if kernel is None:
        raise ValueError(
            f"{type(cell).__name__} with these options has no Triton kernel; expected one of "
            f"{sorted(c.__name__ for c in TRITON_KERNELS)} (tanh, relu or sigmoid; GRU with reset='before'; "
            "LSTM with peepholes, no projection)"
        )
    if xp.dim() != 3 or xp.shape[-1] != cell.projected_size:
        raise ValueError(f"run_triton expected projected inputs (T, B, {cell.projected_size}), got {tuple(xp.shape)}")
    if xp.device.type != "cuda" and not interpreting():
        raise ValueError(f"run_triton expected CUDA tensors (or TRITON_INTERPRET=1 on the CPU), got {xp.device}")
    if xp.dtype != torch.float32:
        raise ValueError(f"run_triton computes in float32, got {xp.dtype}")
    parts = _as_tuple(state)
    want = (xp.shape[1], cell.hidden_size)
    if len(parts) != kernel.n_state or any(not isinstance(p, Tensor) or p.shape != want for p in parts):
        got = [tuple(p.shape) if isinstance(p, Tensor) else type(p).__name__ for p in parts]
        raise ValueError(f"run_triton expected a state of {kernel.n_state} tensor(s) {want}, got {got}")
    T, B = xp.shape[0], xp.shape[1]
    if xp.numel() >= 2**31:  # the kernels index with 32-bit offsets
        raise ValueError(f"run_triton expected fewer than 2**31 projected inputs (T * B * G), got {xp.numel()}")
    check_lengths(lengths, T, B, "run_triton")
    xp = kernel.prepare(xp).contiguous()
    P = kernel.params()
    capture = capture_of(lengths, T)
    inputs = (xp, *parts, *(p for p in P if p is not None))
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        out, *final = _TritonFunction.apply(kernel, capture, lengths, xp, *parts, *P)
    else:
        hs, saved = kernel.forward(xp, parts, P, lengths)
        out = hs if capture is None else hs.masked_fill(~capture.valid, 0.0)
        final = kernel.finals(hs, saved)
    return out, final[0] if isinstance(state, Tensor) else tuple(final)
