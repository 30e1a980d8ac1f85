r"""Scan kernels of the layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016)."""

from __future__ import annotations

import torch

from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.layers.scan.kernel import (
    ScanKernel,
    Workspace,
    memory_factors,
    mm_into,
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

    Live objects: the per-step views of the saved buffers are made per chunk of ``chunk`` steps (forward in
    :meth:`begin_chunk`, backward in :meth:`factors`); the per-step LayerNorm statistics are stacked into
    (T, B, 1) buffers at each chunk's end and the per-step gradients :math:`\delta(W_{hh} h)` and LayerNorm
    parameter gradients are reduced once per chunk, so a call holds a chunk's worth of small tensors at a time.
    """

    n_state = 2
    saved_keys = ("hw", "gates", "c", "tl", "m2", "r2", "m3", "r3")

    param_names = ("weight_hh", "ln_hh.weight", "ln_c.weight", "ln_c.bias")
    _STATS = ("m2", "r2", "m3", "r3")

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
        if save:  # LayerNorm means and reciprocal deviations, (T, B, 1), filled at each chunk's end
            for key in self._STATS:
                ws[key] = xp.new_empty(T, B, 1)
        else:  # one scratch step (two for c): views made once
            self._gate_views(ws, ws["gates"])
        return ws

    @staticmethod
    def _gate_views(ws: Workspace, gates) -> None:
        n, B, _ = gates.shape
        g4 = gates.view(n, B, 4, -1)
        ws["i_t"], ws["f_t"], ws["g_t"], ws["o_t"] = (steps(g4[:, :, k]) for k in range(4))

    def begin_chunk(self, ws, t0, t1):
        if ws["save"]:  # this chunk's per-step views of the saved buffers
            for key in ("hw", "gates", "tl", "c"):
                ws[key + "_t"] = steps(ws[key][t0:t1])
            self._gate_views(ws, ws["gates"][t0:t1])
            ws["k0"] = t0
            ws["stats_l"] = ([], [], [], [])

    def end_chunk(self, ws, t0, t1):
        if ws["save"]:
            for key, values in zip(self._STATS, ws["stats_l"]):
                torch.stack(values, out=ws[key][t0:t1])

    def fstep(self, t, xp_t, state, ws, out_t):
        h, c = state
        _, _, a3, b3 = ws["P"]
        save = ws["save"]
        k, kc = (t - ws["k0"], t - ws["k0"]) if save else (0, t & 1)
        hw = torch.mm(h, ws["Wt"], out=ws["hw_t"][k])
        ln, m2, r2 = torch.native_layer_norm(hw, self.shape_hh, ws["a2s"], None, self.eps_hh)
        a = torch.addcmul(ln, xp_t, ws["s"], out=ws["gates_t"][k])  # xp_t + LN(W_hh h), g rows doubled
        i, f, sg, o = ws["i_t"][k], ws["f_t"][k], ws["g_t"][k], ws["o_t"][k]
        a.sigmoid_()  # sg = sigma(2 g~), g = 2 sg - 1
        c_new = torch.mul(f, c, out=ws["c_t"][kc])
        c_new.addcmul_(i, sg, value=2).sub_(i)
        lc, m3, r3 = torch.native_layer_norm(c_new, self.shape_c, a3, b3, self.eps_c)
        torch.mul(o, torch.tanh(lc, out=ws["tl_t"][k]), out=out_t)
        if save:
            m2_l, r2_l, m3_l, r3_l = ws["stats_l"]
            m2_l.append(m2)
            r2_l.append(r2)
            m3_l.append(m3)
            r3_l.append(r3)
        return out_t, c_new

    def begin_backward(self, ws, state0, out):
        T, B, _ = ws["gates"].shape
        H = self.H
        ws["dA"] = out.new_empty(T, B, 4 * H)
        ws["dl"] = out.new_empty(B, H)  # gradient at LN(c)'s output, one reused step
        ws["dW"], ws["h0"], ws["out"] = None, state0[0], out  # dW_hh, added once per chunk
        needs = ws["needs"]
        ws["mask2"], ws["mask3"] = (True, needs[1], False), (True, needs[2], needs[3])
        want = (needs[1], needs[2], needs[3])  # per-step (da2, da3, db3), stacked per chunk into (T, ·) buffers
        ws["ln_buf"] = [out.new_empty(T, w) if need else None for need, w in zip(want, (4 * H, H, H))]
        n = min(self.chunk, T)  # reused by every chunk: factors, the chunk's dL/d(W_hh h)
        ws["K"], ws["K_t"] = slots(n, True, (B, 3, H), out)  # dc -> dA: i, f, g
        for key in ("Ko", "Kl"):  # dh -> dA_o, dh -> d LN(c)
            ws[key], ws[key + "_t"] = slots(n, True, (B, H), out)
        ws["g"], ws["tmp"] = out.new_empty(n, B, H), out.new_empty(n, B, H)
        ws["dhw_buf"], ws["dhw_t"] = slots(n, True, (B, 4 * H), out)  # dL/d(W_hh h) of the chunk's steps

    def factors(self, ws, state0, out, t0, t1):
        G, tl = ws["gates"][t0:t1], ws["tl"][t0:t1]
        n, B, _ = G.shape
        H = self.H
        i, f, sg, o = G.view(n, B, 4, H).unbind(2)
        memory_factors(i, f, sg, previous_chunk(state0[1], ws["c"], t0, t1), ws["K"][:n], ws["g"][:n], ws["tmp"][:n])
        torch.addcmul(o, o, o, value=-1, out=ws["Ko"][:n]).mul_(tl)  # tanh(LN c) o (1 - o)
        torch.addcmul(G.new_ones(()), tl, tl, value=-1, out=ws["Kl"][:n]).mul_(o)  # o (1 - tanh^2(LN c))
        ws["f_t"] = steps(f)
        dA4 = ws["dA"][t0:t1].view(n, B, 4, H)  # this chunk's per-step views: dA_t, its i/f/g rows, its o rows
        ws["dA_t"], ws["dAifg_t"] = steps(ws["dA"][t0:t1]), steps(dA4[:, :, :3])
        ws["dAo_t"] = steps(dA4[:, :, 3])
        for key in ("hw", "c", *self._STATS):
            ws[key + "_s"] = steps(ws[key][t0:t1])
        ws["t1"], ws["ln_l"] = t1, []

    def bstep(self, t, dh, drest, dy_prev, ws):
        W, a2, a3, b3 = ws["P"]
        k = t - ws["t0"]
        dl = torch.mul(dh, ws["Kl_t"][k], out=ws["dl"])
        dc, da3, db3 = _layer_norm_backward(
            dl, ws["c_s"][k], self.shape_c, ws["m3_s"][k], ws["r3_s"][k], a3, b3, ws["mask3"]
        )
        dc.add_(drest[0])
        torch.mul(dc.unsqueeze(1), ws["K_t"][k], out=ws["dAifg_t"][k])
        torch.mul(dh, ws["Ko_t"][k], out=ws["dAo_t"][k])
        dc.mul_(ws["f_t"][k])
        dhw, da2, _ = _layer_norm_backward(
            ws["dA_t"][k], ws["hw_s"][k], self.shape_hh, ws["m2_s"][k], ws["r2_s"][k], a2, None, ws["mask2"]
        )
        ws["dhw_t"][k].copy_(dhw)  # copied into a reused buffer: dhw itself is freed (and reused) every step
        ws["ln_l"].insert(0, (da2, da3, db3))  # the chunk's steps in time order
        if k == 0:  # the chunk t .. t1 - 1 is done
            self._end_backward_chunk(ws, t, ws["t1"])
        return mm_into(dy_prev, dhw, W), (dc,)

    def _end_backward_chunk(self, ws, t0, t1):
        r"""Add the chunk's share of :math:`\partial L/\partial W_{hh} = \sum_t \delta(W_{hh} h)_t^\top h_{t-1}`
        (one product over the chunk's B (t1 - t0) rows) and of the LayerNorm parameter gradients."""
        n = t1 - t0
        if ws["needs"][0]:
            G = ws["dhw_buf"][:n].view(-1, 4 * self.H)  # (n B, 4H)
            hp = previous_chunk(ws["h0"], ws["out"], t0, t1).reshape(-1, self.H)  # (n B, H)
            ws["dW"] = torch.mm(G.t(), hp) if ws["dW"] is None else ws["dW"].addmm_(G.t(), hp)
        for buf, parts in zip(ws["ln_buf"], zip(*ws["ln_l"])):
            if buf is not None:
                torch.stack(parts, out=buf[t0:t1])
        ws["ln_l"] = []

    def finish(self, ws, state0, out, needs):
        return ws["dA"], (ws["dW"] if needs[0] else None, *(None if b is None else b.sum(0) for b in ws["ln_buf"]))


class LayerNormGRUScan(ScanKernel):
    r"""Layer-normalised GRU (Ba et al. 2016), both resets. "after": LN of the recurrent product's r, z rows
    and n rows; "before": LN of :math:`W_{h\{r,z\}} h` and of the second product :math:`W_{hn}(r \odot h)`.

    The two LayerNorm inputs are computed by two products into contiguous per-step buffers (ATen's LayerNorm
    and its backward copy a strided input first). Backward ("after"), with :math:`k_n = (1 - z)(1 - n^2)` and
    :math:`\ell = \mathrm{LN}(W_{hn} h_{t-1})`: :math:`\delta_{xn} = \bar h k_n`, :math:`\bar\ell = \bar h k_n r`,
    :math:`\delta_{xr} = \bar h k_n \ell\, r(1 - r)`, :math:`\delta_{xz} = \bar h (h_{t-1} - n) z(1 - z)`; the
    two LayerNorm backwards turn :math:`\bar\ell` and :math:`\delta_{x\{r,z\}}` into the gradients
    :math:`\delta_{hn}, \delta_{h\{r,z\}}` at the products, and :math:`\bar h_{t-1} = \delta_h W_{hh} + \bar h z`.
    The per-step factors and gradients live in reused chunk-sized buffers (the r, z rows contiguous, as the
    LayerNorm backward reads them) and are copied into dL/dxp once per chunk. For both resets
    :math:`\partial L/\partial W_{hh}` is accumulated once per chunk of steps, and the gradients of the LayerNorm
    gains and shift come out of the per-step LayerNorm backward, summed after the loop. As in
    :class:`LayerNormLSTMScan`, per-step views are made per chunk and per-step results stacked per chunk.
    """

    saved_keys = ("hrz", "hn", "rz", "n", "m1", "r1", "m2", "r2")

    param_names = ("weight_hh", "ln_hrz.weight", "ln_hn.weight", "ln_hn.bias")
    _STATS = ("m1", "r1", "m2", "r2")

    def __init__(self, cell: LayerNormGRUCell):
        super().__init__(cell)
        self.after = cell.reset == "after"
        self.eps_rz, self.eps_n = cell.ln_hrz.eps, cell.ln_hn.eps
        self.shape_rz, self.shape_n = (2 * self.H,), (self.H,)

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        W = P[0]
        ws: Workspace = {"P": P, "Wrz_t": transposed(W[: 2 * H], T, B), "Wn_t": transposed(W[2 * H :], T, B)}
        ws["hrz"], ws["hrz_t"] = slots(T, save, (B, 2 * H), xp)  # W_h{r,z} h (after) or its product (before)
        ws["hn"], ws["hn_t"] = slots(T, save, (B, H), xp)  # W_hn h (after) or W_hn (r h) (before)
        ws["rz"], ws["rz_t"] = slots(T, save, (B, 2 * H), xp)
        ws["n"], ws["n_t"] = slots(T, save, (B, H), xp)
        ws["xp"], ws["save"] = xp, save
        if save:  # LayerNorm means and reciprocal deviations, (T, B, 1), filled at each chunk's end
            for key in self._STATS:
                ws[key] = xp.new_empty(T, B, 1)
        else:  # one scratch step: views made once
            ws["r_t"], ws["z_t"] = steps(ws["rz"][:, :, :H]), steps(ws["rz"][:, :, H:])
        return ws

    def begin_chunk(self, ws, t0, t1):
        H, xp = self.H, ws["xp"][t0:t1]
        ws["xrz_t"], ws["xn_t"] = xp[:, :, : 2 * H].unbind(0), xp[:, :, 2 * H :].unbind(0)  # the chunk's, of xp
        ws["k0"] = t0
        if ws["save"]:  # this chunk's per-step views of the saved buffers
            for key in ("hrz", "hn", "rz", "n"):
                ws[key + "_t"] = steps(ws[key][t0:t1])
            rz = ws["rz"][t0:t1]
            ws["r_t"], ws["z_t"] = steps(rz[:, :, :H]), steps(rz[:, :, H:])
            ws["stats_l"] = ([], [], [], [])

    def end_chunk(self, ws, t0, t1):
        if ws["save"]:
            for key, values in zip(self._STATS, ws["stats_l"]):
                torch.stack(values, out=ws[key][t0:t1])

    def fstep(self, t, xp_t, state, ws, out_t):
        h = state[0]
        _, a_rz, a_n, b_n = ws["P"]
        kx = t - ws["k0"]
        k = kx if ws["save"] else 0
        rz, n, r = ws["rz_t"][k], ws["n_t"][k], ws["r_t"][k]
        if self.after:
            hrz = torch.mm(h, ws["Wrz_t"], out=ws["hrz_t"][k])
            hn = torch.mm(h, ws["Wn_t"], out=ws["hn_t"][k])
            lrz, m1, r1 = torch.native_layer_norm(hrz, self.shape_rz, a_rz, None, self.eps_rz)
            torch.add(lrz, ws["xrz_t"][kx], out=rz).sigmoid_()
            ln, m2, r2 = torch.native_layer_norm(hn, self.shape_n, a_n, b_n, self.eps_n)
            torch.addcmul(ws["xn_t"][kx], r, ln, out=n).tanh_()
        else:
            hrz = torch.mm(h, ws["Wrz_t"], out=ws["hrz_t"][k])
            lrz, m1, r1 = torch.native_layer_norm(hrz, self.shape_rz, a_rz, None, self.eps_rz)
            torch.add(lrz, ws["xrz_t"][kx], out=rz).sigmoid_()
            hn = torch.mm(r * h, ws["Wn_t"], out=ws["hn_t"][k])
            ln, m2, r2 = torch.native_layer_norm(hn, self.shape_n, a_n, b_n, self.eps_n)
            torch.add(ln, ws["xn_t"][kx], out=n).tanh_()
        torch.lerp(n, h, ws["z_t"][k], out=out_t)
        if ws["save"]:
            for values, v in zip(ws["stats_l"], (m1, r1, m2, r2)):
                values.append(v)
        return (out_t,)

    def begin_backward(self, ws, state0, out):
        T, B, H = ws["n"].shape
        W = ws["P"][0]
        ws["Wrz"], ws["Wn"] = W[: 2 * H], W[2 * H :]
        ws["dX"] = out.new_empty(T, B, 3 * H)
        needs = ws["needs"]
        ws["mask_rz"], ws["mask_n"] = (True, needs[1], False), (True, needs[2], needs[3])
        want = (needs[1], needs[2], needs[3])  # per-step (da_rz, da_n, db_n), stacked per chunk into (T, .) buffers
        ws["ln_buf"] = [out.new_empty(T, w) if need else None for need, w in zip(want, (2 * H, H, H))]
        ws["dW"] = W.new_zeros(W.shape) if needs[0] else None
        n = min(self.chunk, T)  # reused by every chunk: factors, per-step gradients
        if self.after:
            ws["one"], ws["tmp"] = out.new_ones(()), out.new_empty(n, B, H)
            ws["Krz"], ws["Krz_t"] = slots(n, True, (B, 2, H), out)  # dh -> dxp: r, z
            ws["Knl"], ws["Knl_t"] = slots(n, True, (2, B, H), out)  # dh -> dxp_n, dh -> d LN(W_hn h)
            ws["Drz"] = out.new_empty(n, B, 2 * H)  # dxp_{r,z}: the gradient at LN(W_h{r,z} h), contiguous
            ws["Dnl"] = out.new_empty(n, 2, B, H)  # dxp_n and the gradient at LN(W_hn h)
            ws["Drz_t"], ws["Drz3_t"] = steps(ws["Drz"]), steps(ws["Drz"].view(n, B, 2, H))
            ws["Dnl_t"], ws["dln_t"] = steps(ws["Dnl"]), steps(ws["Dnl"][:, 1])
            Gh = ws["Gh"] = out.new_empty(n, B, 3 * H)  # the gradients at W_hh h: r, z rows, n rows
            ws["Gh_t"], ws["Ghrz_t"], ws["Ghn_t"] = steps(Gh), steps(Gh[:, :, : 2 * H]), steps(Gh[:, :, 2 * H :])
        else:
            ws["dhrz_l"], ws["dhn_l"] = [None] * n, [None] * n  # the products' gradients of the chunk's steps
            ws["Grz"], ws["Gn"] = out.new_empty(n, B, 2 * H), out.new_empty(n, B, H)

    def factors(self, ws, state0, out, t0, t1):
        RZ, N = ws["rz"][t0:t1], ws["n"][t0:t1]
        n_, B, H = N.shape
        _, a_rz, a_n, b_n = ws["P"]
        r, z = RZ[:, :, :H], RZ[:, :, H:]
        hp = previous_chunk(state0[0], out, t0, t1)
        ws["hprev"], ws["t1"], ws["ln_l"] = hp, t1, []
        for key in ("hrz", "hn", *self._STATS):  # this chunk's per-step views
            ws[key + "_s"] = steps(ws[key][t0:t1])
        ws["z_s"] = steps(z)
        if not self.after:
            ws["dX_t"], ws["r_s"] = steps(ws["dX"][t0:t1]), steps(r)
        if self.after:
            tmp = ws["tmp"][:n_]
            Krz, Knl = ws["Krz"][:n_], ws["Knl"][:n_]
            kn = Knl[:, 0]
            torch.addcmul(z, z, z, value=-1, out=tmp)  # z (1 - z)
            torch.sub(hp, N, out=Krz[:, :, 1]).mul_(tmp)  # (h_{t-1} - n) z (1 - z)
            torch.addcmul(ws["one"], N, N, value=-1, out=tmp)  # 1 - n^2
            torch.addcmul(tmp, tmp, z, value=-1, out=kn)  # k_n = (1 - z)(1 - n^2)
            torch.mul(kn, r, out=Knl[:, 1])  # dh -> d LN(W_hn h)
            torch.sub(ws["hn"][t0:t1], ws["m2"][t0:t1], out=tmp).mul_(ws["r2"][t0:t1])
            torch.addcmul(b_n, tmp, a_n, out=tmp)  # LN(W_hn h)
            torch.addcmul(r, r, r, value=-1, out=Krz[:, :, 0]).mul_(kn).mul_(tmp)  # k_n LN(W_hn h) r (1 - r)
        else:
            K = RZ.new_empty(n_, B, 2, H)  # dh -> dxp: z, n
            update_gate_factors(z, N, hp, K[:, :, 0], K[:, :, 1])
            ws.update(K=steps(K), Kr=steps(hp * (r - r * r)))  # Kr: d(r h) -> d r_pre

    def bstep(self, t, dh, drest, dy_prev, ws):
        _, a_rz, a_n, b_n = ws["P"]
        k = t - ws["t0"]
        if self.after:
            torch.mul(dh.unsqueeze(1), ws["Krz_t"][k], out=ws["Drz3_t"][k])
            torch.mul(dh, ws["Knl_t"][k], out=ws["Dnl_t"][k])
            drz_in, dln = ws["Drz_t"][k], ws["dln_t"][k]
        else:
            dX = ws["dX_t"][k]  # (B, 3H)
            torch.mul(dh.unsqueeze(1), ws["K"][k], out=dX[:, self.H :].view(-1, 2, self.H))
            dln = dX[:, 2 * self.H :]
        dhn, da_n, db_n = _layer_norm_backward(
            dln, ws["hn_s"][k], self.shape_n, ws["m2_s"][k], ws["r2_s"][k], a_n, b_n, ws["mask_n"]
        )
        if not self.after:
            drh = torch.mm(dhn, ws["Wn"])  # dL/d(r h): (B, H)
            torch.mul(drh, ws["Kr"][k], out=dX[:, : self.H])
            drz_in = dX[:, : 2 * self.H]
            dh_prev = drh.mul_(ws["r_s"][k]) if dy_prev is None else torch.addcmul(dy_prev, drh, ws["r_s"][k])
        dhrz, da_rz, _ = _layer_norm_backward(
            drz_in, ws["hrz_s"][k], self.shape_rz, ws["m1_s"][k], ws["r1_s"][k], a_rz, None, ws["mask_rz"]
        )
        if self.after:
            ws["Ghrz_t"][k].copy_(dhrz)
            ws["Ghn_t"][k].copy_(dhn)
            dh_prev = mm_into(dy_prev, ws["Gh_t"][k], ws["P"][0])
        else:
            dh_prev.addmm_(dhrz, ws["Wrz"])
            ws["dhrz_l"][k], ws["dhn_l"][k] = dhrz, dhn
        ws["ln_l"].insert(0, (da_rz, da_n, db_n))  # the chunk's steps in time order
        if k == 0:  # the chunk t .. t1 - 1 is done
            self._end_chunk(ws, t, ws["t1"])
        return dh_prev.addcmul_(dh, ws["z_s"][k]), ()

    def _end_chunk(self, ws, t0, t1):
        """Copy the chunk's input gradients into dL/dxp ("after") and add its share of dW_hh."""
        n, H = t1 - t0, self.H
        for buf, parts in zip(ws["ln_buf"], zip(*ws["ln_l"])):
            if buf is not None:
                torch.stack(parts, out=buf[t0:t1])
        dW = ws["dW"]
        if self.after:
            dX = ws["dX"][t0:t1]
            dX[:, :, : 2 * H].copy_(ws["Drz"][:n])
            dX[:, :, 2 * H :].copy_(ws["Dnl"][:n, 0])
            if dW is not None:
                dW.addmm_(ws["Gh"][:n].view(-1, 3 * H).t(), ws["hprev"].reshape(-1, H))
        elif dW is not None:
            Grz = torch.stack(ws["dhrz_l"][:n], out=ws["Grz"][:n]).view(-1, 2 * H)
            Gn = torch.stack(ws["dhn_l"][:n], out=ws["Gn"][:n]).view(-1, H)
            hp = ws["hprev"].reshape(-1, H)
            dW[: 2 * H].addmm_(Grz.t(), hp)
            dW[2 * H :].addmm_(Gn.t(), (ws["rz"][t0:t1, :, :H] * ws["hprev"]).view(-1, H))

    def finish(self, ws, state0, out, needs):
        return ws["dX"], (ws["dW"], *(None if b is None else b.sum(0) for b in ws["ln_buf"]))
