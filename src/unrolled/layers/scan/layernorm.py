r"""Scan kernels of the layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016)."""

from __future__ import annotations

import torch

from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.layers.scan.kernel import (
    ChunkedGradWeight,
    ScanKernel,
    Workspace,
    grad_weight,
    grad_weight_reset_before,
    ln_grads,
    memory_factors,
    mm_into,
    normalized,
    previous_chunk,
    slots,
    steps,
    transposed,
    update_gate_factors,
)

_layer_norm_backward = torch.ops.aten.native_layer_norm_backward


class LayerNormLSTMScan(ScanKernel):
    r"""Layer-normalised LSTM (Ba et al. 2016). The per-row LayerNorm backward
    :math:`\bar x = \tfrac{1}{\sigma}\big(\bar{\hat x} - \mathrm{mean}(\bar{\hat x}) - \hat x\,
    \mathrm{mean}(\bar{\hat x} \hat x)\big)` runs per step through ATen's ``native_layer_norm_backward`` on the
    mean and reciprocal deviation saved by the forward. The gradients of the recurrent LayerNorm's gain and of
    the cell LayerNorm's gain and shift come out of that kernel too, per step (fused there: cheaper than a
    reduction over (T, B, ·) after the loop), and are summed once after the loop.

    tanh as in :class:`~unrolled.layers.scan.lstm.LSTMScan`, through one sigmoid; the factor 2 of
    :math:`\sigma(2\tilde g)` is folded into the recurrent LayerNorm's gain and into the ``addcmul`` that adds
    xp: :math:`\mathrm{LN}(W_{hh} h; s \odot \alpha_2) + s \odot \mathrm{xp}_t`, :math:`s = 2` on the g rows and
    1 elsewhere.
    """

    n_state = 2
    saved_keys = ("hw", "gates", "c", "tl", "m2", "r2", "m3", "r3")

    param_names = ("weight_hh", "ln_hh.weight", "ln_c.weight", "ln_c.bias")

    def __init__(self, cell: LayerNormLSTMCell):
        super().__init__(cell)
        self.eps_hh, self.eps_c = cell.ln_hh.eps, cell.ln_c.eps
        self.shape_hh, self.shape_c = (4 * self.H,), (self.H,)

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        ws: Workspace = {"P": P, "Wt": transposed(P[0], T, B), "save": save}
        ws["s"] = P[1].new_ones(4 * H).index_fill_(0, torch.arange(2 * H, 3 * H, device=xp.device), 2.0)
        ws["a2s"] = P[1] * ws["s"]  # the gain of LN(W_hh h) with the g rows doubled
        for key, width in (("hw", 4 * H), ("gates", 4 * H), ("tl", H)):
            ws[key], ws[key + "_t"] = slots(T, save, (B, width), xp)
        ws["c"], ws["c_t"] = slots(T, save, (B, H), xp, scratch=2)
        g4 = ws["gates"].view(-1, B, 4, H)
        ws["i_t"], ws["f_t"], ws["g_t"], ws["o_t"] = (steps(g4[:, :, k]) for k in range(4))
        for key in ("m2", "r2", "m3", "r3"):  # LayerNorm means and reciprocal deviations, per step
            ws[key] = [None] * T
        return ws

    def fstep(self, t, xp_t, state, ws, out_t):
        h, c = state
        _, _, a3, b3 = ws["P"]
        k = t % len(ws["hw_t"])
        hw = torch.mm(h, ws["Wt"], out=ws["hw_t"][k])
        ln, m2, r2 = torch.native_layer_norm(hw, self.shape_hh, ws["a2s"], None, self.eps_hh)
        a = torch.addcmul(ln, xp_t, ws["s"], out=ws["gates_t"][k])  # xp_t + LN(W_hh h), g rows doubled
        i, f, sg, o = ws["i_t"][k], ws["f_t"][k], ws["g_t"][k], ws["o_t"][k]
        a.sigmoid_()  # sg = sigma(2 g~), g = 2 sg - 1
        ct = ws["c_t"]
        c_new = torch.mul(f, c, out=ct[t % len(ct)])
        c_new.addcmul_(i, sg, value=2).sub_(i)
        lc, m3, r3 = torch.native_layer_norm(c_new, self.shape_c, a3, b3, self.eps_c)
        torch.mul(o, torch.tanh(lc, out=ws["tl_t"][k]), out=out_t)
        if ws["save"]:
            ws["m2"][t], ws["r2"][t], ws["m3"][t], ws["r3"][t] = m2, r2, m3, r3
        return out_t, c_new

    def pack(self, ws: Workspace) -> None:
        for key in ("m2", "r2", "m3", "r3"):
            ws[key] = torch.stack(ws[key])  # (T, B, 1)

    def begin_backward(self, ws, state0, out):
        T, B, _ = ws["gates"].shape
        H = self.H
        ws["dA"] = out.new_empty(T, B, 4 * H)
        dA4 = ws["dA"].view(T, B, 4, H)  # per-step views made once: all of dA_t, its i/f/g rows, its o rows
        ws["dA_t"], ws["dAifg_t"], ws["dAo_t"] = steps(ws["dA"]), steps(dA4[:, :, :3]), steps(dA4[:, :, 3])
        ws["dl"] = out.new_empty(B, H)  # gradient at LN(c)'s output, one reused step
        ws["dW"] = ChunkedGradWeight(T, B, 4 * H, state0[0], out)
        needs = ws["needs"]
        ws["mask2"], ws["mask3"] = (True, needs[1], False), (True, needs[2], needs[3])
        ws["ln_grads"] = []  # per step (da2, da3, db3), summed after the loop
        for key in ("hw", "c", "m2", "r2", "m3", "r3"):
            ws[key + "_s"] = steps(ws[key])
        n = min(self.chunk, T)  # factors, reused by every chunk
        ws["K"], ws["K_t"] = slots(n, True, (B, 3, H), out)  # dc -> dA: i, f, g
        for key in ("Ko", "Kl"):  # dh -> dA_o, dh -> d LN(c)
            ws[key], ws[key + "_t"] = slots(n, True, (B, H), out)
        ws["g"], ws["tmp"] = out.new_empty(n, B, H), out.new_empty(n, B, H)

    def factors(self, ws, state0, out, t0, t1):
        G, tl = ws["gates"][t0:t1], ws["tl"][t0:t1]
        n, B, _ = G.shape
        H = self.H
        i, f, sg, o = G.view(n, B, 4, H).unbind(2)
        memory_factors(i, f, sg, previous_chunk(state0[1], ws["c"], t0, t1), ws["K"][:n], ws["g"][:n], ws["tmp"][:n])
        torch.addcmul(o, o, o, value=-1, out=ws["Ko"][:n]).mul_(tl)  # tanh(LN c) o (1 - o)
        torch.addcmul(G.new_ones(()), tl, tl, value=-1, out=ws["Kl"][:n]).mul_(o)  # o (1 - tanh^2(LN c))
        ws["f_t"] = steps(f)

    def bstep(self, t, dh, drest, dy_prev, ws):
        W, a2, a3, b3 = ws["P"]
        k = t - ws["t0"]
        dl = torch.mul(dh, ws["Kl_t"][k], out=ws["dl"])
        dc, da3, db3 = _layer_norm_backward(
            dl, ws["c_s"][t], self.shape_c, ws["m3_s"][t], ws["r3_s"][t], a3, b3, ws["mask3"]
        )
        dc.add_(drest[0])
        torch.mul(dc.unsqueeze(1), ws["K_t"][k], out=ws["dAifg_t"][t])
        torch.mul(dh, ws["Ko_t"][k], out=ws["dAo_t"][t])
        dc.mul_(ws["f_t"][k])
        dhw, da2, _ = _layer_norm_backward(
            ws["dA_t"][t], ws["hw_s"][t], self.shape_hh, ws["m2_s"][t], ws["r2_s"][t], a2, None, ws["mask2"]
        )
        ws["dW"].add(t, dhw)
        ws["ln_grads"].append((da2, da3, db3))
        return mm_into(dy_prev, dhw, W), (dc,)

    def finish(self, ws, state0, out, needs):
        da2, da3, db3 = (None if g[0] is None else torch.stack(g).sum(0) for g in zip(*ws["ln_grads"]))
        return ws["dA"], (ws["dW"].dW if needs[0] else None, da2, da3, db3)


class LayerNormGRUScan(ScanKernel):
    r"""Layer-normalised GRU (Ba et al. 2016), both resets. "after": LN of the recurrent product's r, z rows
    and n rows; "before": LN of :math:`W_{h\{r,z\}} h` and of the second product :math:`W_{hn}(r \odot h)`."""

    saved_keys = ("hrz", "hn", "rz", "n", "m1", "r1", "m2", "r2")

    param_names = ("weight_hh", "ln_hrz.weight", "ln_hn.weight", "ln_hn.bias")

    def __init__(self, cell: LayerNormGRUCell):
        super().__init__(cell)
        self.after = cell.reset == "after"
        self.eps_rz, self.eps_n = cell.ln_hrz.eps, cell.ln_hn.eps

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        Wt = transposed(P[0], T, B)
        ws: Workspace = {"P": P, "Wrz_t": Wt[:, : 2 * H], "Wn_t": Wt[:, 2 * H :], "Wt": Wt}
        if self.after:
            ws["hp"], ws["hp_t"] = slots(T, save, (B, 3 * H), xp)  # W_hh h: r, z, n rows
        else:
            ws["hrz"], ws["hrz_t"] = slots(T, save, (B, 2 * H), xp)
            ws["hn"], ws["hn_t"] = slots(T, save, (B, H), xp)
        ws["rz"], ws["rz_t"] = slots(T, save, (B, 2 * H), xp)
        ws["n"], ws["n_t"] = slots(T, save, (B, H), xp)
        for key in ("m1", "r1", "m2", "r2"):  # LayerNorm means and reciprocal deviations, per step
            ws[key] = [None] * T
        ws["save"] = save
        return ws

    def fstep(self, t, xp_t, state, ws, out_t):
        h = state[0]
        H = self.H
        _, a_rz, a_n, b_n = ws["P"]
        k = t % len(ws["rz_t"])
        rz, n = ws["rz_t"][k], ws["n_t"][k]
        if self.after:
            hp = torch.mm(h, ws["Wt"], out=ws["hp_t"][k])
            lrz, m1, r1 = torch.native_layer_norm(hp[:, : 2 * H], (2 * H,), a_rz, None, self.eps_rz)
            torch.add(lrz, xp_t[:, : 2 * H], out=rz).sigmoid_()
            ln, m2, r2 = torch.native_layer_norm(hp[:, 2 * H :], (H,), a_n, b_n, self.eps_n)
            torch.addcmul(xp_t[:, 2 * H :], rz[:, :H], ln, out=n).tanh_()
        else:
            hrz = torch.mm(h, ws["Wrz_t"], out=ws["hrz_t"][k])
            lrz, m1, r1 = torch.native_layer_norm(hrz, (2 * H,), a_rz, None, self.eps_rz)
            torch.add(lrz, xp_t[:, : 2 * H], out=rz).sigmoid_()
            hn = torch.mm(rz[:, :H] * h, ws["Wn_t"], out=ws["hn_t"][k])
            ln, m2, r2 = torch.native_layer_norm(hn, (H,), a_n, b_n, self.eps_n)
            torch.add(ln, xp_t[:, 2 * H :], out=n).tanh_()
        torch.lerp(n, h, rz[:, H:], out=out_t)
        if ws["save"]:
            ws["m1"][t], ws["r1"][t], ws["m2"][t], ws["r2"][t] = m1, r1, m2, r2
        return (out_t,)

    def pack(self, ws: Workspace) -> None:
        for key in ("m1", "r1", "m2", "r2"):
            ws[key] = torch.stack(ws[key])  # (T, B, 1)
        if self.after:  # name the two LayerNorm inputs alike for both resets
            H = self.H
            ws["hrz"], ws["hn"] = ws["hp"][:, :, : 2 * H], ws["hp"][:, :, 2 * H :]

    def begin_backward(self, ws, state0, out):
        T, B, H = ws["n"].shape
        ws["dX"] = out.new_empty(T, B, 3 * H)
        ws["dX_t"] = steps(ws["dX"])
        ws["dln"] = ws["dX"][:, :, 2 * H :] if not self.after else out.new_empty(T, B, H)
        ws["dln_t"] = steps(ws["dln"])
        ws["dH"] = out.new_empty(T, B, 3 * H)  # gradients at the products' outputs: r, z rows, n rows
        ws["dH_t"] = steps(ws["dH"])
        for key in ("hrz", "hn", "m1", "r1", "m2", "r2"):
            ws[key + "_s"] = steps(ws[key])
        W = ws["P"][0]
        ws["Wrz"], ws["Wn"] = W[: 2 * H], W[2 * H :]

    def factors(self, ws, state0, out, t0, t1):
        RZ, N = ws["rz"][t0:t1], ws["n"][t0:t1]
        n_, B, H = N.shape
        _, a_rz, a_n, b_n = ws["P"]
        r, z = RZ[:, :, :H], RZ[:, :, H:]
        hp = previous_chunk(state0[0], out, t0, t1)
        K = RZ.new_empty(n_, B, 3, H)  # dh -> dxp: r (after only), z, n
        kn = update_gate_factors(z, N, hp, K[:, :, 1], K[:, :, 2])
        if self.after:
            hn, m2, r2 = ws["hn"][t0:t1], ws["m2"][t0:t1], ws["r2"][t0:t1]
            ln = torch.addcmul(b_n, normalized(hn, m2, r2), a_n)  # LN(W_hn h)
            torch.mul(kn * ln, r - r * r, out=K[:, :, 0])
            ws["Kln"] = steps(kn * r)  # dh -> d LN(W_hn h)
        else:
            ws["Kr"] = steps(hp * (r - r * r))  # d(r h) -> d r_pre
            ws["r"] = steps(r)
        ws.update(K=steps(K), z=steps(z))

    def bstep(self, t, dh, drest, dy_prev, ws):
        H = self.H
        W, a_rz, a_n, b_n = ws["P"]
        dX, dH = ws["dX_t"][t], ws["dH_t"][t]  # (B, 3H) each
        k = t - ws["t0"]
        mask = (True, False, False)
        if self.after:
            torch.mul(dh.unsqueeze(1), ws["K"][k], out=dX.view(-1, 3, H))
            dln = torch.mul(dh, ws["Kln"][k], out=ws["dln_t"][t])
        else:
            torch.mul(dh.unsqueeze(1), ws["K"][k][:, 1:], out=dX[:, H:].view(-1, 2, H))
            dln = dX[:, 2 * H :]
        dhn = _layer_norm_backward(dln, ws["hn_s"][t], (H,), ws["m2_s"][t], ws["r2_s"][t], a_n, b_n, mask)[0]
        dH[:, 2 * H :] = dhn
        if not self.after:
            drh = torch.mm(dhn, ws["Wn"])  # dL/d(r h): (B, H)
            torch.mul(drh, ws["Kr"][k], out=dX[:, :H])
        drz = _layer_norm_backward(
            dX[:, : 2 * H], ws["hrz_s"][t], (2 * H,), ws["m1_s"][t], ws["r1_s"][t], a_rz, None, mask
        )[0]
        dH[:, : 2 * H] = drz
        if self.after:
            dh_prev = mm_into(dy_prev, dH, W)
        else:
            dh_prev = mm_into(dy_prev, drz, ws["Wrz"]).addcmul_(drh, ws["r"][k])
        return dh_prev.addcmul_(dh, ws["z"][k]), ()

    def finish(self, ws, state0, out, needs):
        dX, dH = ws["dX"], ws["dH"]
        H = self.H
        dW = None
        if needs[0]:
            h0 = state0[0]
            dW = grad_weight(dH, h0, out) if self.after else grad_weight_reset_before(dH, ws["rz"], h0, out)
        da_rz, _ = ln_grads(dX[:, :, : 2 * H], ws["hrz"], ws["m1"], ws["r1"], needs[1], False)
        da_n, db_n = ln_grads(ws["dln"], ws["hn"], ws["m2"], ws["r2"], needs[2], needs[3])
        return dX, (dW, da_rz, da_n, db_n)
