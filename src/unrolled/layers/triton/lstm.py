r"""The fused Triton kernel of the peephole LSTM (:class:`~unrolled.cells.LSTMCell` with ``peephole=True``)."""

from __future__ import annotations

import torch

from unrolled.cells.lstm import LSTMCell
from unrolled.layers.scan.kernel import grad_weight
from unrolled.layers.triton.kernel import Launch, TritonKernel, grad_arg, lengths_arg


class PeepholeLSTMTriton(TritonKernel):
    r"""Peephole LSTM (Gers & Schmidhuber 2000) in one launch over all T; backward in one launch:
    :math:`\delta o = \bar h \tanh(c) o(1 - o)`, :math:`\bar c_t = \bar c + \bar h o (1 - \tanh^2 c) + \delta o\,
    w_{co}`, :math:`\delta i, \delta f, \delta g` from :math:`\bar c_t`, :math:`\bar c_{t-1} = \bar c_t f +
    \delta i\, w_{ci} + \delta f\, w_{cf}`, the peepholes' gradients summed per program; then
    :math:`\partial L/\partial W_{hh}` as one product over all T. Parameters: ``weight_hh``, ``weight_ci``,
    ``weight_cf``, ``weight_co`` (the scan kernel's). Plain LSTMs run cuDNN on a GPU and have no kernel here."""

    n_tiles = 4
    n_state = 2

    def forward(self, xp, state0, P, lengths):
        from unrolled.layers.triton.lstm_jit import peephole_lstm_forward

        T, B, _ = xp.shape
        H = self.H
        go = Launch.of(T, B, H)
        hs, cs = xp.new_empty(T, B, H), xp.new_empty(T, B, H)  # h_t, c_t
        gates = torch.empty_like(xp)  # (T, B, 4H)
        W, wci, wcf, wco = (p.contiguous() for p in P)
        peephole_lstm_forward[go.grid](
            xp, state0[0].contiguous(), state0[1].contiguous(), W, wci, wcf, wco, lengths_arg(lengths, xp),
            hs, cs, gates, T, B, H, **go.flags(lengths),
        )  # fmt: skip
        return hs, (cs, gates)

    def finals(self, hs, saved):
        return hs[-1].clone(), saved[0][-1].clone()

    def backward(self, dout, dfinal, state0, P, hs, saved, lengths, needs):
        from unrolled.layers.triton.lstm_jit import peephole_lstm_backward

        T, B, H = hs.shape
        go = Launch.of(T, B, H)
        cs, gates = saved
        h0, c0 = state0[0].contiguous(), state0[1].contiguous()
        da = torch.empty_like(gates)  # (T, B, 4H)
        dh0, dc0 = torch.empty_like(h0), torch.empty_like(c0)
        dpeep = hs.new_empty(go.grid[0], 3 * H)  # (programs, 3H)
        W, wci, wcf, wco = (p.contiguous() for p in P)
        dh_fin, dc_fin = dfinal
        peephole_lstm_backward[go.grid](
            grad_arg(dout, hs), grad_arg(dh_fin, h0), grad_arg(dc_fin, c0), c0, cs, gates, W, wci, wcf, wco,
            lengths_arg(lengths, hs), da, dh0, dc0, dpeep, T, B, H,
            HAS_DOUT=dout is not None, HAS_DH=dh_fin is not None, HAS_DC=dc_fin is not None, **go.flags(lengths),
        )  # fmt: skip
        dW = grad_weight(da, h0, hs) if needs[0] else None  # (4H, H), one product over all T
        sums = dpeep.sum(0).split(H)  # dL/dw_ci, dL/dw_cf, dL/dw_co
        return da, (dh0, dc0), (dW, *(g if need else None for g, need in zip(sums, needs[1:])))


def lstm_kernel(cell: LSTMCell) -> PeepholeLSTMTriton | None:
    """The Triton kernel of a peephole LSTM without projection; None otherwise (plain LSTMs run cuDNN)."""
    return PeepholeLSTMTriton(cell) if cell.peephole and cell.proj_size == 0 else None
