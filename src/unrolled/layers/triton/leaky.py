r"""The fused Triton kernel of the leaky-integrator cell, fixed or learned time constants."""

from __future__ import annotations

import torch

from unrolled.cells.leaky import LeakyCell
from unrolled.layers.scan.kernel import grad_weight
from unrolled.layers.triton.kernel import Launch, TritonKernel, act_code, grad_arg, lengths_arg


class LeakyTriton(TritonKernel):
    r""":math:`s_t = s_{t-1} + w \odot (\phi(\mathrm{xp}_t + s_{t-1} W^\top) - s_{t-1})`, :math:`w = 1/\tau`,
    in one launch over all T. Backward in one launch: :math:`\delta a_t = \bar s_t\, w\, \phi'`,
    :math:`\bar s_{t-1} = \delta a_t W + \bar s_t (1 - w)`, and :math:`\bar w = \sum_t \bar s_t (a_t - s_{t-1})`
    (per program, summed after; autograd maps it onto ``tau_raw``); then :math:`\partial L/\partial W` as one
    product over all T. Parameters: ``weight_hh`` and :math:`1/\tau` (the scan kernel's, the cell's own)."""

    def __init__(self, cell: LeakyCell):
        super().__init__(cell)
        self.act = act_code(cell.phi)

    def forward(self, xp, state0, P, lengths):
        h0 = state0[0]
        from unrolled.layers.triton.leaky_jit import leaky_forward

        T, B, H = xp.shape
        go = Launch.of(T, B, H)
        hs = torch.empty_like(xp)  # (T, B, H) states s_t
        a = torch.empty_like(xp)  # (T, B, H) activations a_t
        leaky_forward[go.grid](
            xp, h0.contiguous(), P[0].contiguous(), P[1].contiguous(), lengths_arg(lengths, xp), hs, a, T, B, H,
            ACT=self.act, **go.flags(lengths),
        )  # fmt: skip
        return hs, (a,)

    def backward(self, dout, dfinal, state0, P, hs, saved, lengths, needs):
        h0, dfinal = state0[0], dfinal[0]
        from unrolled.layers.triton.leaky_jit import leaky_backward

        T, B, H = hs.shape
        go = Launch.of(T, B, H)
        da = torch.empty_like(hs)  # (T, B, H)
        dh0 = torch.empty_like(h0)  # (B, H)
        dleak = hs.new_empty(go.grid[0], H)  # (programs, H)
        h0 = h0.contiguous()
        leaky_backward[go.grid](
            grad_arg(dout, hs), grad_arg(dfinal, h0), h0, hs, saved[0], P[0].contiguous(), P[1].contiguous(),
            lengths_arg(lengths, hs), da, dh0, dleak, T, B, H,
            HAS_DOUT=dout is not None, HAS_DFINAL=dfinal is not None, ACT=self.act, **go.flags(lengths),
        )  # fmt: skip
        dW = grad_weight(da, h0, hs) if needs[0] else None  # (H, H), one product over all T
        dw = dleak.sum(0) if needs[1] else None  # (H,)
        return da, (dh0,), (dW, dw)


def leaky_kernel(cell: LeakyCell) -> LeakyTriton | None:
    """The Triton kernel of a leaky cell, or None for a nonlinearity it lacks."""
    return LeakyTriton(cell) if act_code(cell.phi) is not None else None
