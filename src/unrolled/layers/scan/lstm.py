r"""Scan kernel of the LSTM cell, plain and with peepholes (no projection)."""

from __future__ import annotations

import torch
from torch import Tensor

from unrolled.cells.lstm import LSTMCell
from unrolled.layers.scan.kernel import (
    ScanKernel,
    grad_weight,
    memory_factors,
    mm_into,
    previous_chunk,
    slots,
    steps,
    sum_bt,
    transposed,
)


class LSTMScan(ScanKernel):
    r"""LSTM with optional peepholes. Backward, with :math:`\bar c_t = \bar c_{t+1} f_{t+1} + \ldots`:

    .. math::
        \bar c_t \mathrel{+}= \bar h_t \odot o_t (1 - \tanh^2 c_t), \quad
        \delta o = \bar h_t \odot \tanh c_t\, o(1 - o), \quad
        \delta i = \bar c_t \odot g\, i(1-i), \quad \delta f = \bar c_t \odot c_{t-1} f(1-f), \quad
        \delta g = \bar c_t \odot i (1 - g^2).

    Peepholes fold into the same per-step form: :math:`\bar c_t \mathrel{+}= \delta o\, w_{co}` and
    :math:`\bar c_{t-1} = \bar c_t (f + k_i w_{ci} + k_f w_{cf})` with the precomputed factors :math:`k`.

    The g gate's tanh is computed as :math:`\tanh x = 2\sigma(2x) - 1` (ATen's CPU sigmoid is ~3x faster
    than its tanh), so one sigmoid covers all four gates; the gate buffer keeps :math:`\sigma(2\tilde g)` in
    the g slot and :math:`\tanh c_t` is saved for the backward.
    """

    n_state = 2
    saved_keys = ("gates", "c", "tc")

    def __init__(self, cell: LSTMCell):
        super().__init__(cell)
        self.peephole = cell.peephole
        self.param_names = ("weight_hh", "weight_ci", "weight_cf", "weight_co") if cell.peephole else ("weight_hh",)

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        ws = {"P": P, "Wt": transposed(P[0], T, B), "save": save}
        ws["gates"], ws["gates_t"] = slots(T, save, (B, 4 * H), xp)
        ws["c"], ws["c_t"] = slots(T, save, (B, H), xp, scratch=2)
        ws["tc"], ws["tc_t"] = slots(T, save, (B, H), xp)
        if self.peephole:
            ws["w_if"] = torch.stack([P[1], P[2]])  # (2, H)
        if not save:  # one scratch step (two for c): views made once
            self._gate_views(ws, ws["gates"])
        return ws

    def _gate_views(self, ws, gates: Tensor) -> None:
        """Per-step views of each gate of ``gates`` (n, B, 4H), made once per chunk (not per step)."""
        n, B, _ = gates.shape
        g4 = gates.view(n, B, 4, -1)
        ws["i_t"], ws["f_t"], ws["g_t"], ws["o_t"] = (steps(g4[:, :, k]) for k in range(4))
        if self.peephole:
            ws["if_t"], ws["ifg_t"] = steps(g4[:, :, :2]), steps(g4[:, :, :3])

    def begin_chunk(self, ws, t0, t1):
        if ws["save"]:  # this chunk's per-step views of the saved buffers
            for key in ("gates", "c", "tc"):
                ws[key + "_t"] = steps(ws[key][t0:t1])
            self._gate_views(ws, ws["gates"][t0:t1])
            ws["k0"] = t0

    def fstep(self, t, xp_t, state, ws, out_t):
        h, c = state
        k, kc = (t - ws["k0"], t - ws["k0"]) if ws["save"] else (0, t & 1)
        a = torch.addmm(xp_t, h, ws["Wt"], out=ws["gates_t"][k])  # (B, 4H): i, f, g, o
        i, f, sg, o = ws["i_t"][k], ws["f_t"][k], ws["g_t"][k], ws["o_t"][k]
        if self.peephole:
            ws["if_t"][k].addcmul_(c.unsqueeze(1), ws["w_if"])
        sg.mul_(2)
        (ws["ifg_t"][k] if self.peephole else a).sigmoid_()  # sg = sigma(2 g~), g = 2 sg - 1
        c_new = torch.mul(f, c, out=ws["c_t"][kc])
        c_new.addcmul_(i, sg, value=2).sub_(i)  # f c + i (2 sg - 1)
        if self.peephole:
            o.addcmul_(c_new, ws["P"][3]).sigmoid_()
        torch.mul(o, torch.tanh(c_new, out=ws["tc_t"][k]), out=out_t)
        return out_t, c_new

    def begin_backward(self, ws, state0, out):
        T, B, _ = ws["gates"].shape
        ws["dA"] = ws["gates"].new_empty(T, B, 4 * self.H)
        n, H = min(self.chunk, T), self.H
        K = out.new_empty(n, B, 4, H)  # factors, reused by every chunk: i, f, g multiply dc; o multiplies dh
        ws.update(K=K, K_t=steps(K[:, :, :3]), Ko_t=steps(K[:, :, 3]), g=out.new_empty(n, B, H))
        ws["Kc"], ws["Kc_t"] = slots(n, True, (B, H), out)
        ws["tmp"] = out.new_empty(n, B, H)
        ws["dA4"] = ws["dA"].view(T, B, 4, H)
        if self.peephole:
            ws["Kcp"], ws["Kcp_t"] = slots(n, True, (B, H), out)

    def factors(self, ws, state0, out, t0, t1):
        G, tc = ws["gates"][t0:t1], ws["tc"][t0:t1]
        n, B, _ = G.shape
        i, f, sg, o = G.view(n, B, 4, -1).unbind(2)
        ws["dA_t"] = steps(ws["dA4"][t0:t1])  # this chunk's per-step views of dL/dA
        K, tmp, one = ws["K"][:n], ws["tmp"][:n], G.new_ones(())
        memory_factors(i, f, sg, previous_chunk(state0[1], ws["c"], t0, t1), K, ws["g"][:n], tmp)
        torch.mul(tc, torch.addcmul(o, o, o, value=-1, out=tmp), out=K[:, :, 3])  # tanh(c) o (1 - o)
        Kc = torch.addcmul(one, tc, tc, value=-1, out=ws["Kc"][:n]).mul_(o)  # dh -> dc: o (1 - tanh^2 c)
        if self.peephole:  # dc -> dc_{t-1}: f + k_i w_ci + k_f w_cf
            _, w_ci, w_cf, w_co = ws["P"]
            Kc.addcmul_(K[:, :, 3], w_co)
            torch.addcmul(f, K[:, :, 0], w_ci, out=ws["Kcp"][:n]).addcmul_(K[:, :, 1], w_cf)
        else:  # dc -> dc_{t-1}: f
            ws["Kcp_t"] = steps(f)

    def bstep(self, t, dh, drest, dy_prev, ws):
        k = t - ws["t0"]
        dc = torch.addcmul(drest[0], dh, ws["Kc_t"][k])  # (B, H)
        dA = ws["dA_t"][k]  # (B, 4, H)
        torch.mul(dc.unsqueeze(1), ws["K_t"][k], out=dA[:, :3])
        torch.mul(dh, ws["Ko_t"][k], out=dA[:, 3])
        dc.mul_(ws["Kcp_t"][k])
        return mm_into(dy_prev, dA.view(dA.shape[0], -1), ws["P"][0]), (dc,)

    def finish(self, ws, state0, out, needs):
        dA = ws["dA"]
        grads: list[Tensor | None] = [grad_weight(dA, state0[0], out) if needs[0] else None]
        if self.peephole:
            d4 = dA.view(*dA.shape[:2], 4, -1)
            C = ws["c"]
            for k, need in ((0, needs[1]), (1, needs[2])):  # w_ci, w_cf: sum_t dA_k,t c_{t-1}
                dk = d4[:, :, k]
                grads.append(sum_bt(dk[1:] * C[:-1]) + sum_bt(dk[:1] * state0[1]) if need else None)
            grads.append(sum_bt(d4[:, :, 3] * C) if needs[3] else None)
        return dA, tuple(grads)
