r"""The fused Triton kernel of the leaky-integrator cell, fixed or learned time constants."""

from __future__ import annotations

import torch

from unrolled.cells.leaky import LeakyCell
from unrolled.layers.scan.kernel import grad_weight
from unrolled.layers.triton.kernel import PRECISION, Launch, TritonKernel, act_code, grad_arg, lengths_arg, stream_tile


class LeakyTriton(TritonKernel):
    r""":math:`s_t = s_{t-1} + w \odot (\phi(\mathrm{xp}_t + s_{t-1} W^\top) - s_{t-1})`, :math:`w = 1/\tau`,
    in one launch over all T. Backward in one launch: :math:`\delta a_t = \bar s_t\, w\, \phi'`,
    :math:`\bar s_{t-1} = \delta a_t W + \bar s_t (1 - w)`, and :math:`\bar w = \sum_t \bar s_t (a_t - s_{t-1})`
    (per program, summed after; autograd maps it onto ``tau_raw``); then :math:`\partial L/\partial W` as one
    product over all T. Parameters: ``weight_hh`` and :math:`1/\tau` (the scan kernel's, the cell's own)."""

    streams = True

    def __init__(self, cell: LeakyCell):
        super().__init__(cell)
        self.act = act_code(cell.phi)

    def forward(self, xp, state0, P, lengths):
        h0 = state0[0]
        from unrolled.layers.triton.leaky_jit import leaky_forward

        T, B, H = xp.shape
        if not self.fits():
            return self._forward_streamed(xp, h0, P, lengths)
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
        if not self.fits():
            return self._backward_streamed(dout, dfinal, h0, P, hs, saved, lengths, needs)
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

    def _forward_streamed(self, xp, h0, P, lengths):
        from unrolled.layers.triton.leaky_jit import leaky_forward_streamed

        T, B, H = xp.shape
        go, tile = Launch.of(T, B, H), stream_tile()
        hs = xp.new_empty(T + 1, B, H)  # s_0 .. s_T
        hs[0] = h0
        a = torch.empty_like(xp)  # (T, B, H)
        leaky_forward_streamed[go.grid](
            xp, hs, P[0].contiguous(), P[1].contiguous(), lengths_arg(lengths, xp), a, T, B, H, -(-H // tile),
            HAS_LEN=lengths is not None, ACT=self.act, BLOCK_B=go.block_b, BLOCK_K=tile, PRECISION=PRECISION,
            num_warps=go.num_warps,
        )  # fmt: skip
        return hs[1:], (a,)

    def _backward_streamed(self, dout, dfinal, h0, P, hs, saved, lengths, needs):
        from unrolled.layers.triton.leaky_jit import leaky_backward_streamed

        T, B, H = hs.shape
        go, tile = Launch.of(T, B, H), stream_tile()
        da = torch.empty_like(hs)  # (T, B, H)
        dh = hs.new_zeros(2, B, H)  # ping-pong dL/ds, slot 0 = dL/ds_T
        if dfinal is not None:
            dh[0] = dfinal
        dleak = hs.new_zeros(go.grid[0], H)  # (programs, H)
        h0 = h0.contiguous()
        leaky_backward_streamed[go.grid](
            grad_arg(dout, hs), h0, hs, saved[0], P[0].contiguous(), P[1].contiguous(), lengths_arg(lengths, hs),
            da, dh, dleak, T, B, H, -(-H // tile), HAS_DOUT=dout is not None, HAS_LEN=lengths is not None,
            ACT=self.act, BLOCK_B=go.block_b, BLOCK_K=tile, PRECISION=PRECISION, num_warps=go.num_warps,
        )  # fmt: skip
        dW = grad_weight(da, h0, hs) if needs[0] else None
        dw = dleak.sum(0) if needs[1] else None
        return da, (dh[T % 2].clone(),), (dW, dw)


def leaky_kernel(cell: LeakyCell) -> LeakyTriton | None:
    """The Triton kernel of a leaky cell, or None for a nonlinearity it lacks."""
    return LeakyTriton(cell) if act_code(cell.phi) is not None else None
