r"""The fused Triton kernel of the layer-normalised GRU (:class:`~unrolled.cells.LayerNormGRUCell`), both resets."""

from __future__ import annotations

import torch

from unrolled.cells.layernorm import LayerNormGRUCell
from unrolled.layers.scan.kernel import grad_weight, grad_weight_reset_before
from unrolled.layers.triton.kernel import Launch, TritonKernel, grad_arg, lengths_arg


class LayerNormGRUTriton(TritonKernel):
    r"""Ba et al. (2016) GRU in one launch over all T, reset "after" or "before" (a compile-time constant);
    backward in one launch, with :math:`\delta n = \bar h (1 - z)(1 - n^2)`,
    :math:`\delta z = \bar h (h_{t-1} - n) z (1 - z)`, through both LayerNorms
    (:math:`\bar x = \tfrac{1}{\sigma}(\bar{\hat x} - \mathrm{mean}\,\bar{\hat x} - \hat x\,
    \mathrm{mean}(\bar{\hat x} \hat x))`, per row, over 2H for the r, z one and H for the n one). "after":
    :math:`\bar\ell = \delta n\, r`, :math:`\delta r = \delta n\, \ell\, r (1 - r)` with
    :math:`\ell = \mathrm{LN}(W_{hn} h_{t-1})`; "before": :math:`\overline{rh} = \delta_{hn} W_{hn}`,
    :math:`\delta r = \overline{rh}\, h_{t-1} r (1 - r)`. The gains' and shift's gradients are summed per program;
    then :math:`\partial L/\partial W_{hh}` as one product over all T (per block for "before", whose n rows
    multiply :math:`r \odot h_{t-1}`). Parameters: ``weight_hh``, ``ln_hrz.weight``, ``ln_hn.weight``,
    ``ln_hn.bias`` (the scan kernel's)."""

    n_tiles = 3

    def __init__(self, cell: LayerNormGRUCell):
        super().__init__(cell)
        self.after = cell.reset == "after"
        self.eps2, self.eps3 = float(cell.ln_hrz.eps), float(cell.ln_hn.eps)

    def forward(self, xp, state0, P, lengths):
        from unrolled.layers.triton.layernorm_gru_jit import ln_gru_forward

        T, B, _ = xp.shape
        H = self.H
        go = Launch.of(T, B, H)
        hs, x3 = xp.new_empty(T, B, H), xp.new_empty(T, B, H)  # h_t, the normalised n product
        gates = torch.empty_like(xp)  # (T, B, 3H): r, z, n
        x2 = xp.new_empty(T, B, 2 * H)  # the normalised r, z product
        r2, r3 = xp.new_empty(T, B), xp.new_empty(T, B)
        W, a2, a3, b3 = (p.contiguous() for p in P)
        ln_gru_forward[go.grid](
            xp, state0[0].contiguous(), W, a2, a3, b3, lengths_arg(lengths, xp), hs, gates, x2, r2, x3, r3,
            self.eps2, self.eps3, T, B, H, AFTER=self.after, **go.flags(lengths),
        )  # fmt: skip
        return hs, (gates, x2, r2, x3, r3)

    def backward(self, dout, dfinal, state0, P, hs, saved, lengths, needs):
        from unrolled.layers.triton.layernorm_gru_jit import ln_gru_backward

        T, B, H = hs.shape
        go = Launch.of(T, B, H)
        gates, x2, r2, x3, r3 = saved
        h0, dh_fin = state0[0].contiguous(), dfinal[0]
        dxp, dp = torch.empty_like(gates), torch.empty_like(gates)  # (T, B, 3H)
        dh0 = torch.empty_like(h0)  # (B, H)
        n = go.grid[0]
        da2, da3, db3 = hs.new_empty(n, 2 * H), hs.new_empty(n, H), hs.new_empty(n, H)
        W, a2, a3, b3 = (p.contiguous() for p in P)
        ln_gru_backward[go.grid](
            grad_arg(dout, hs), grad_arg(dh_fin, h0), h0, hs, gates, x2, r2, x3, r3, W, a2, a3, b3,
            lengths_arg(lengths, hs), dxp, dp, dh0, da2, da3, db3, T, B, H, AFTER=self.after,
            HAS_DOUT=dout is not None, HAS_DFINAL=dh_fin is not None, **go.flags(lengths),
        )  # fmt: skip
        dW = None
        if needs[0]:  # (3H, H), products over all T
            dW = grad_weight(dp, h0, hs) if self.after else grad_weight_reset_before(dp, gates, h0, hs)
        sums = tuple(g.sum(0) if need else None for g, need in zip((da2, da3, db3), needs[1:]))
        return dxp, (dh0,), (dW, *sums)


def ln_gru_kernel(cell: LayerNormGRUCell) -> LayerNormGRUTriton:
    """The Triton kernel of a layer-normalised GRU (either reset)."""
    return LayerNormGRUTriton(cell)
