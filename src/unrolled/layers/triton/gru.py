r"""The fused Triton kernel of the GRU with the reset gate before the recurrent product."""

from __future__ import annotations

import torch

from unrolled.cells.gru import GRUCell
from unrolled.layers.scan.kernel import grad_weight_reset_before
from unrolled.layers.triton.kernel import Launch, TritonKernel, grad_arg, lengths_arg


class GRUBeforeTriton(TritonKernel):
    r"""reset="before" (Cho et al. 2014, eq. 5-8) in one launch over all T; backward in one launch:
    :math:`\delta n = \bar h (1 - z)(1 - n^2)`, :math:`\overline{rh} = \delta n\, W_{hn}`,
    :math:`\delta r = \overline{rh}\, h_{t-1} r (1 - r)`, :math:`\delta z = \bar h (h_{t-1} - n) z (1 - z)`,
    :math:`\bar h_{t-1} = \bar h z + \overline{rh}\, r + \delta r W_{hr} + \delta z W_{hz}`; then
    :math:`\partial L/\partial W_{hh}` as one product over all T per block. ``b_hn`` is folded into xp by the
    scan kernel's ``prepare`` (autograd carries its gradient), so the only parameter here is ``weight_hh``."""

    n_tiles = 3

    def forward(self, xp, state0, P, lengths):
        h0 = state0[0]
        from unrolled.layers.triton.gru_jit import gru_before_forward

        T, B, _ = xp.shape
        H = self.H
        go = Launch.of(T, B, H)
        hs = xp.new_empty(T, B, H)  # states
        gates = torch.empty_like(xp)  # (T, B, 3H): r, z, n
        gru_before_forward[go.grid](
            xp, h0.contiguous(), P[0].contiguous(), lengths_arg(lengths, xp), hs, gates, T, B, H,
            **go.flags(lengths),
        )  # fmt: skip
        return hs, (gates,)

    def backward(self, dout, dfinal, state0, P, hs, saved, lengths, needs):
        h0, dfinal = state0[0], dfinal[0]
        from unrolled.layers.triton.gru_jit import gru_before_backward

        T, B, H = hs.shape
        go = Launch.of(T, B, H)
        gates = saved[0]
        da = torch.empty_like(gates)  # (T, B, 3H)
        dh0 = torch.empty_like(h0)  # (B, H)
        h0 = h0.contiguous()
        gru_before_backward[go.grid](
            grad_arg(dout, hs), grad_arg(dfinal, h0), h0, hs, gates, P[0].contiguous(), lengths_arg(lengths, hs),
            da, dh0, T, B, H, HAS_DOUT=dout is not None, HAS_DFINAL=dfinal is not None, **go.flags(lengths),
        )  # fmt: skip
        dW = grad_weight_reset_before(da, gates, h0, hs) if needs[0] else None  # (3H, H), products over all T
        return da, (dh0,), (dW,)


def gru_kernel(cell: GRUCell) -> GRUBeforeTriton | None:
    """The Triton kernel of a GRU with reset="before"; None for reset="after" (not written yet)."""
    return GRUBeforeTriton(cell) if cell.reset == "before" else None
