r"""The fused Triton kernel of the layer-normalised LSTM (:class:`~unrolled.cells.LayerNormLSTMCell`)."""

from __future__ import annotations

import torch

from unrolled.cells.layernorm import LayerNormLSTMCell
from unrolled.layers.scan.kernel import grad_weight
from unrolled.layers.triton.kernel import Launch, TritonKernel, grad_arg, lengths_arg


class LayerNormLSTMTriton(TritonKernel):
    r"""Ba et al. (2016) LSTM in one launch over all T; backward in one launch through both LayerNorms
    (:math:`\bar x = \tfrac{1}{\sigma}(\bar{\hat x} - \mathrm{mean}\,\bar{\hat x} - \hat x\,
    \mathrm{mean}(\bar{\hat x} \hat x))`, per row, over 4H for the recurrent one and H for the cell one), the
    gains' and shift's gradients summed per program; then :math:`\partial L/\partial W_{hh}` as one product over
    all T. Parameters: ``weight_hh``, ``ln_hh.weight``, ``ln_c.weight``, ``ln_c.bias`` (the scan kernel's)."""

    n_tiles = 4
    n_state = 2

    def __init__(self, cell: LayerNormLSTMCell):
        super().__init__(cell)
        self.eps2, self.eps3 = float(cell.ln_hh.eps), float(cell.ln_c.eps)

    def forward(self, xp, state0, P, lengths):
        from unrolled.layers.triton.layernorm_jit import ln_lstm_forward

        T, B, G = xp.shape
        H = self.H
        go = Launch.of(T, B, H)
        hs, cs, x3 = (xp.new_empty(T, B, H) for _ in range(3))  # h_t, c_t, normalised c_t
        gates, x2 = torch.empty_like(xp), torch.empty_like(xp)  # (T, B, 4H)
        r2, r3 = xp.new_empty(T, B), xp.new_empty(T, B)
        W, a2, a3, b3 = (p.contiguous() for p in P)
        ln_lstm_forward[go.grid](
            xp, state0[0].contiguous(), state0[1].contiguous(), W, a2, a3, b3, lengths_arg(lengths, xp),
            hs, cs, gates, x2, r2, x3, r3, self.eps2, self.eps3, T, B, H, **go.flags(lengths),
        )  # fmt: skip
        return hs, (cs, gates, x2, r2, x3, r3)

    def finals(self, hs, saved):
        return hs[-1].clone(), saved[0][-1].clone()

    def backward(self, dout, dfinal, state0, P, hs, saved, lengths, needs):
        from unrolled.layers.triton.layernorm_jit import ln_lstm_backward

        T, B, H = hs.shape
        go = Launch.of(T, B, H)
        cs, gates, x2, r2, x3, r3 = saved
        h0, c0 = state0[0].contiguous(), state0[1].contiguous()
        dxp, dp = torch.empty_like(gates), torch.empty_like(gates)  # (T, B, 4H)
        dh0, dc0 = torch.empty_like(h0), torch.empty_like(c0)
        n = go.grid[0]
        da2, da3, db3 = hs.new_empty(n, 4 * H), hs.new_empty(n, H), hs.new_empty(n, H)
        W, a2, a3, b3 = (p.contiguous() for p in P)
        dh_fin, dc_fin = dfinal
        ln_lstm_backward[go.grid](
            grad_arg(dout, hs), grad_arg(dh_fin, h0), grad_arg(dc_fin, c0), c0, cs, gates, x2, r2, x3, r3,
            W, a2, a3, b3, lengths_arg(lengths, hs), dxp, dp, dh0, dc0, da2, da3, db3, T, B, H,
            HAS_DOUT=dout is not None, HAS_DH=dh_fin is not None, HAS_DC=dc_fin is not None, **go.flags(lengths),
        )  # fmt: skip
        dW = grad_weight(dp, h0, hs) if needs[0] else None  # (4H, H), one product over all T
        sums = tuple(g.sum(0) if need else None for g, need in zip((da2, da3, db3), needs[1:]))
        return dxp, (dh0, dc0), (dW, *sums)


def ln_lstm_kernel(cell: LayerNormLSTMCell) -> LayerNormLSTMTriton:
    """The Triton kernel of a layer-normalised LSTM."""
    return LayerNormLSTMTriton(cell)
