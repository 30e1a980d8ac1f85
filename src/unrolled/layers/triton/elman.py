r"""The fused Triton kernel of the Elman cell (tanh, relu, sigmoid)."""

from __future__ import annotations

import torch

from unrolled.cells.elman import ElmanCell
from unrolled.layers.scan.kernel import grad_weight
from unrolled.layers.triton.kernel import Launch, TritonKernel, act_code, grad_arg, lengths_arg


class ElmanTriton(TritonKernel):
    r""":math:`h_t = \phi(\mathrm{xp}_t + h_{t-1} W^\top)` in one launch over all T; backward
    :math:`\delta a_t = \bar h_t \odot \phi'`, :math:`\bar h_{t-1} = \delta a_t W + \partial L / \partial y_{t-1}`
    in one launch, then :math:`\partial L / \partial W = \sum_t \delta a_t^\top h_{t-1}` as one product."""

    def __init__(self, cell: ElmanCell):
        super().__init__(cell)
        self.act = act_code(cell.phi)

    def forward(self, xp, state0, P, lengths):
        h0 = state0[0]
        from unrolled.layers.triton.elman_jit import elman_forward

        T, B, H = xp.shape
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
        go = Launch.of(T, B, H)
        da = torch.empty_like(hs)  # (T, B, H)
        dh0 = torch.empty_like(h0)  # (B, H)
        elman_backward[go.grid](
            grad_arg(dout, hs), grad_arg(dfinal, h0), hs, P[0].contiguous(), lengths_arg(lengths, hs), da, dh0,
            T, B, H, HAS_DOUT=dout is not None, HAS_DFINAL=dfinal is not None, ACT=self.act, **go.flags(lengths),
        )  # fmt: skip
        dW = grad_weight(da, h0, hs) if needs[0] else None  # (H, H), one product over all T
        return da, (dh0,), (dW,)


def elman_kernel(cell: ElmanCell) -> ElmanTriton | None:
    """The Triton kernel of an Elman cell, or None for a nonlinearity it lacks."""
    return ElmanTriton(cell) if act_code(cell.phi) is not None else None
