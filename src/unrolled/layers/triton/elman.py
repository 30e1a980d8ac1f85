r"""The fused Triton kernel of the Elman cell (tanh, relu, sigmoid)."""

from __future__ import annotations

import torch

from unrolled.cells.elman import ElmanCell
from unrolled.layers.scan.kernel import grad_weight
from unrolled.layers.triton.kernel import PRECISION, Launch, TritonKernel, act_code, grad_arg, lengths_arg, stream_tile


class ElmanTriton(TritonKernel):
    r""":math:`h_t = \phi(\mathrm{xp}_t + h_{t-1} W^\top)` in one launch over all T; backward
    :math:`\delta a_t = \bar h_t \odot \phi'`, :math:`\bar h_{t-1} = \delta a_t W + \partial L / \partial y_{t-1}`
    in one launch, then :math:`\partial L / \partial W = \sum_t \delta a_t^\top h_{t-1}` as one product."""

    streams = True

    def __init__(self, cell: ElmanCell):
        super().__init__(cell)
        self.act = act_code(cell.phi)

    def forward(self, xp, state0, P, lengths):
        h0 = state0[0]
        from unrolled.layers.triton.elman_jit import elman_forward

        T, B, H = xp.shape
        if not self.fits():
            return self._forward_streamed(xp, h0, P, lengths)
        go = Launch.of(T, B, H)
        hs = torch.empty_like(xp)  # (T, B, H)
        elman_forward[go.grid](
            xp, h0.contiguous(), P[0].contiguous(), lengths_arg(lengths, xp), hs, T, B, H,
            ACT=self.act, **go.flags(lengths),
        )  # fmt: skip
        return hs, ()

    def backward(self, dout, dfinal, state0, P, hs, saved, lengths, needs):
        h0, dfinal = state0[0], dfinal[0]
        from unrolled.layers.triton.elman_jit import elman_backward

        T, B, H = hs.shape
        if not self.fits():
            return self._backward_streamed(dout, dfinal, h0, P, hs, lengths, needs)
        go = Launch.of(T, B, H)
        da = torch.empty_like(hs)  # (T, B, H)
        dh0 = torch.empty_like(h0)  # (B, H)
        elman_backward[go.grid](
            grad_arg(dout, hs), grad_arg(dfinal, h0), hs, P[0].contiguous(), lengths_arg(lengths, hs), da, dh0,
            T, B, H, HAS_DOUT=dout is not None, HAS_DFINAL=dfinal is not None, ACT=self.act, **go.flags(lengths),
        )  # fmt: skip
        dW = grad_weight(da, h0, hs) if needs[0] else None  # (H, H), one product over all T
        return da, (dh0,), (dW,)

    def _forward_streamed(self, xp, h0, P, lengths):
        from unrolled.layers.triton.elman_jit import elman_forward_streamed

        T, B, H = xp.shape
        go, tile = Launch.of(T, B, H), stream_tile()
        hs = xp.new_empty(T + 1, B, H)  # h_0 .. h_T
        hs[0] = h0
        elman_forward_streamed[go.grid](
            xp, hs, P[0].contiguous(), lengths_arg(lengths, xp), T, B, H, -(-H // tile), HAS_LEN=lengths is not None,
            ACT=self.act, BLOCK_B=go.block_b, BLOCK_K=tile, PRECISION=PRECISION, num_warps=go.num_warps,
        )  # fmt: skip
        return hs[1:], ()

    def _backward_streamed(self, dout, dfinal, h0, P, hs, lengths, needs):
        from unrolled.layers.triton.elman_jit import elman_backward_streamed

        T, B, H = hs.shape
        go, tile = Launch.of(T, B, H), stream_tile()
        da = torch.empty_like(hs)  # (T, B, H)
        dh = hs.new_zeros(2, B, H)  # ping-pong dL/dh, slot 0 = dL/dh_T
        if dfinal is not None:
            dh[0] = dfinal
        elman_backward_streamed[go.grid](
            grad_arg(dout, hs), hs, P[0].contiguous(), lengths_arg(lengths, hs), da, dh, T, B, H, -(-H // tile),
            HAS_DOUT=dout is not None, HAS_LEN=lengths is not None, ACT=self.act, BLOCK_B=go.block_b,
            BLOCK_K=tile, PRECISION=PRECISION, num_warps=go.num_warps,
        )  # fmt: skip
        dW = grad_weight(da, h0, hs) if needs[0] else None
        return da, (dh[T % 2].clone(),), (dW,)


def elman_kernel(cell: ElmanCell) -> ElmanTriton | None:
    """The Triton kernel of an Elman cell, or None for a nonlinearity it lacks."""
    return ElmanTriton(cell) if act_code(cell.phi) is not None else None
