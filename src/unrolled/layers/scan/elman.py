r"""Scan kernel of the Elman cell, every nonlinearity."""

from __future__ import annotations

import torch

from unrolled.cells.elman import ElmanCell
from unrolled.layers.scan.kernel import (
    NAME_OF_ACTIVATION,
    POINTWISE,
    ScanKernel,
    grad_weight,
    mm_into,
    steps,
    transposed,
)


class ElmanScan(ScanKernel):
    r""":math:`h_t = \phi(\mathrm{xp}_t + W h_{t-1})`; :math:`\delta A_t = \bar h_t \odot \phi'`,
    :math:`\bar h_{t-1} = \delta A_t W + \partial L/\partial y_{t-1}`."""

    param_names = ("weight_hh",)

    def __init__(self, cell: ElmanCell):
        super().__init__(cell)
        self.act, self.dact = POINTWISE[NAME_OF_ACTIVATION[cell.phi]]

    def workspace(self, xp, state0, P, save):
        return {"P": P, "Wt": transposed(P[0], *xp.shape[:2])}

    def fstep(self, t, xp_t, state, ws, out_t):
        self.act(torch.addmm(xp_t, state[0], ws["Wt"], out=out_t))
        return (out_t,)

    def begin_backward(self, ws, state0, out):
        ws["dA"] = torch.empty_like(out)
        ws["dA_t"] = steps(ws["dA"])

    def factors(self, ws, state0, out, t0, t1):
        ws["K"] = steps(self.dact(out[t0:t1]))

    def bstep(self, t, dh, drest, dy_prev, ws):
        dA = torch.mul(dh, ws["K"][t - ws["t0"]], out=ws["dA_t"][t])
        return mm_into(dy_prev, dA, ws["P"][0]), ()

    def finish(self, ws, state0, out, needs):
        return ws["dA"], (grad_weight(ws["dA"], state0[0], out) if needs[0] else None,)
