r"""The autograd Function of the Triton path and :func:`run_triton`, its entry point."""

from __future__ import annotations

import torch
from torch import Tensor

from unrolled.cells.base import RecurrentCell, State
from unrolled.layers.scan.function import _capture, _reference
from unrolled.layers.triton.kernel import TritonKernel, interpreting
from unrolled.layers.triton.registry import TRITON_KERNELS, triton_kernel


class _TritonFunction(torch.autograd.Function):
    """Inputs: kernel, capture, lengths, xp (T, B, G), h0 (B, H), the kernel's params; outputs: (T, B, H) (zero
    past each end) and the final state (B, H). Backward: the kernel's fused BPTT; with ``create_graph=True``,
    autograd through the scan path's differentiable reference loop instead."""

    @staticmethod
    def forward(ctx, kernel: TritonKernel, capture, lengths, xp: Tensor, h0: Tensor, *P):
        hs, saved = kernel.forward(xp, h0, P, lengths)  # (T, B, H), held past each end
        out = hs if capture is None else hs.masked_fill(~capture.valid, 0.0)  # (T, B, H)
        final = hs[-1].clone()  # (B, H): each sequence's state at its own last step
        ctx.kernel, ctx.capture, ctx.lengths, ctx.n_params = kernel, capture, lengths, len(P)
        ctx.save_for_backward(xp, h0, *P, hs, *saved)
        ctx.set_materialize_grads(False)
        return out, final

    @staticmethod
    def backward(ctx, dout, dfinal):
        if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable itself
            return _backward_by_recomputation(ctx, dout, dfinal)
        nP = ctx.n_params
        saved = ctx.saved_tensors
        h0, P, hs, extra = saved[1], saved[2 : 2 + nP], saved[2 + nP], saved[3 + nP :]
        needs = ctx.needs_input_grad
        dxp, dh0, dP = ctx.kernel.backward(dout, dfinal, h0, P, hs, extra, ctx.lengths, needs[5:])
        return (None, None, None, dxp if needs[3] else None, dh0 if needs[4] else None, *dP)


def _backward_by_recomputation(ctx, dout: Tensor | None, dfinal: Tensor | None) -> tuple:
    """The Function's gradients as autograd of the scan path's reference loop, with ``create_graph``."""
    nP = ctx.n_params
    inputs = ctx.saved_tensors[: 2 + nP]  # xp, h0, P
    xp, h0, P = inputs[0], inputs[1], inputs[2:]
    with torch.enable_grad():
        out, final = _reference(ctx.kernel.scan, xp, (h0,), P, ctx.capture)
    pairs = [(y, g) for y, g in zip((out, final[0]), (dout, dfinal)) if g is not None and y.requires_grad]
    wanted = [k for k, need in enumerate(ctx.needs_input_grad[3:]) if need]
    grads: list[Tensor | None] = [None] * len(inputs)
    if pairs and wanted:
        ys, gs = zip(*pairs)
        found = torch.autograd.grad(ys, [inputs[k] for k in wanted], gs, create_graph=True, allow_unused=True)
        for k, g in zip(wanted, found):
            grads[k] = g
    return (None, None, None, *grads)


def run_triton(cell: RecurrentCell, xp: Tensor, state: State, lengths: Tensor | None = None) -> tuple:
    r"""Run ``cell`` over projected inputs with the fused Triton kernels: the same contract as
    :func:`~unrolled.layers.scan.scan`.

    The input projection ``xp = cell.project_input(x)`` is one product over all T before (autograd carries
    ``dxp`` through it to ``weight_ih``, the biases and ``x``). The forward is one kernel launch: each program
    owns a block of the batch and runs all T steps, the recurrent weights on chip, the recurrent product and the
    step's pointwise math fused (FlashRNN, Pöppel et al. 2024). The backward is one launch over all T steps
    backwards, then :math:`\partial L / \partial W_{hh} = \sum_t \delta A_t^\top h_{t-1}` as one product. The
    parameters are the cell's own. Double backward (``create_graph=True``) differentiates the scan path's
    reference loop.

    Args:
        cell: a cell with a Triton kernel (:data:`TRITON_KERNELS`).
        xp: ``cell.project_input(x)``, (T, B, G), float32, on a CUDA device (or the CPU under
            ``TRITON_INTERPRET=1``).
        state: the initial state (B, H).
        lengths: optional (B,) integer tensor in 1..T: the final state is each sequence's state at its own last
            step, the outputs past each end are zero and nothing there reaches a gradient.

    Shape:
        - xp: (T, B, G); output: (T, B, H); state: (B, H).

    Example::

        >>> cell = ElmanCell(8, 16).cuda()
        >>> x = torch.randn(5, 3, 8, device="cuda")
        >>> y, h = run_triton(cell, cell.project_input(x), cell.init_state(3, "cuda"))
    """
    kernel = triton_kernel(cell)
    if kernel is None:
        raise ValueError(
            f"{type(cell).__name__} with these options has no Triton kernel; expected one of "
            f"{sorted(c.__name__ for c in TRITON_KERNELS)} (tanh, relu or sigmoid; GRU with reset='before')"
        )
    if xp.dim() != 3 or xp.shape[-1] != cell.projected_size:
        raise ValueError(f"run_triton expected projected inputs (T, B, {cell.projected_size}), got {tuple(xp.shape)}")
    if xp.device.type != "cuda" and not interpreting():
        raise ValueError(f"run_triton expected CUDA tensors (or TRITON_INTERPRET=1 on the CPU), got {xp.device}")
    if xp.dtype != torch.float32:
        raise ValueError(f"run_triton computes in float32, got {xp.dtype}")
    if not isinstance(state, Tensor) or state.shape != (xp.shape[1], cell.hidden_size):
        got = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
        raise ValueError(f"run_triton expected a state ({xp.shape[1]}, {cell.hidden_size}), got {got}")
    T, B = xp.shape[0], xp.shape[1]
    if lengths is not None:
        if lengths.shape != (B,) or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise ValueError(
                f"run_triton expected lengths as a ({B},) integer tensor, got shape {tuple(lengths.shape)} and "
                f"dtype {lengths.dtype}"
            )
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 1 or hi > T:
            raise ValueError(f"run_triton expected lengths in 1..T = 1..{T}, got min {lo} and max {hi}")
    xp = kernel.prepare(xp).contiguous()
    P = kernel.params()
    capture = _capture(lengths, T)
    inputs = (xp, state, *(p for p in P if p is not None))
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        out, final = _TritonFunction.apply(kernel, capture, lengths, xp, state, *P)
        return out, final
    hs, _ = kernel.forward(xp, state, P, lengths)
    out = hs if capture is None else hs.masked_fill(~capture.valid, 0.0)
    return out, hs[-1].clone()
