r"""Scan kernel of the leaky-integrator cell, fixed or learned time constants."""

from __future__ import annotations

import torch

from unrolled.cells.leaky import LeakyCell
from unrolled.layers.scan.kernel import (
    NAME_OF_ACTIVATION,
    POINTWISE,
    ScanKernel,
    grad_weight,
    mm_into,
    previous,
    slots,
    steps,
    sum_bt,
    transposed,
)


class LeakyScan(ScanKernel):
    r""":math:`s_t = s_{t-1} + w (a_t - s_{t-1})`, :math:`a_t = \phi(\mathrm{xp}_t + W s_{t-1})`,
    :math:`w = 1/\tau`. Backward: :math:`\delta A = \bar s_t\, w \phi'`,
    :math:`\bar s_{t-1} = \delta A\, W + \bar s_t (1 - w)`, :math:`\bar w = \sum_t \bar s_t (a_t - s_{t-1})`
    (autograd maps it onto ``tau_raw``)."""

    saved_keys = ("a",)

    def __init__(self, cell: LeakyCell):
        super().__init__(cell)
        self.phi = cell.phi
        self.act, self.dact = POINTWISE[NAME_OF_ACTIVATION[cell.phi]]

    def params(self, cell):
        return (cell.weight_hh, cell.tau.reciprocal())

    def reference_step(self, P):
        # LeakyCell.step computes 1/tau itself (from tau_raw when learned), so it cannot read P[1]: its math here
        W, w = P

        def step(xp_t, state):
            s = torch.lerp(state[0], self.phi(torch.addmm(xp_t, state[0], W.t())), w)
            return s, (s,)

        return step

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        a, a_t = slots(T, save, (B, self.H), xp)
        return {"P": P, "Wt": transposed(P[0], T, B), "a": a, "a_t": a_t}

    def fstep(self, t, xp_t, state, ws, out_t):
        s = state[0]
        at = ws["a_t"]
        a = self.act(torch.addmm(xp_t, s, ws["Wt"], out=at[t % len(at)]))
        torch.lerp(s, a, ws["P"][1], out=out_t)
        return (out_t,)

    def begin_backward(self, ws, state0, out):
        ws["keep"] = 1 - ws["P"][1]
        ws["dA"] = torch.empty_like(out)
        ws["dA_t"] = steps(ws["dA"])
        ws["ds"] = [None] * out.shape[0]

    def factors(self, ws, state0, out, t0, t1):
        ws["K"] = steps(self.dact(ws["a"][t0:t1]).mul_(ws["P"][1]))

    def bstep(self, t, dh, drest, dy_prev, ws):
        ws["ds"][t] = dh
        dA = torch.mul(dh, ws["K"][t - ws["t0"]], out=ws["dA_t"][t])
        return mm_into(dy_prev, dA, ws["P"][0]).addcmul_(dh, ws["keep"]), ()

    def finish(self, ws, state0, out, needs):
        dA = ws["dA"]
        dW = grad_weight(dA, state0[0], out) if needs[0] else None
        dw = None
        if needs[1]:
            dw = sum_bt(torch.stack(ws["ds"]) * (ws["a"] - previous(state0[0], out)))
        return dA, (dW, dw)
