r"""Scan kernels of the GRU cell: reset after the product (torch's, cuDNN's) and before it (Cho et al. 2014)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unrolled.layers.scan.kernel import (
    ScanKernel,
    grad_weight,
    grad_weight_reset_before,
    mm_into,
    previous_chunk,
    slots,
    steps,
    sum_bt,
    transposed,
    update_gate_factors,
)


class GRUAfterScan(ScanKernel):
    r"""GRU, reset after the product: :math:`n = \tanh(\mathrm{xp}_n + r \odot (W_{hn} h + b_{hn}))`.

    With :math:`k_n = (1 - z)(1 - n^2)`: :math:`\delta_{xn} = \bar h k_n`,
    :math:`\delta_{hn} = \bar h k_n r`, :math:`\delta_r = \bar h k_n (W_{hn} h + b_{hn})\, r(1-r)`,
    :math:`\delta_z = \bar h (h_{t-1} - n) z(1-z)`, :math:`\bar h_{t-1} = \delta_h W_{hh} + \bar h z`.
    """

    saved_keys = ("s",)

    def params(self, cell):
        return (cell.weight_hh, None if cell.bias_hh is None else cell.bias_hh[2 * self.H :])

    def substitutes(self, P):
        W, b_hn = P  # cell.step reads only bias_hh[2H:] (b_hr, b_hz are in xp)
        return {"weight_hh": W} if b_hn is None else {"weight_hh": W, "bias_hh": F.pad(b_hn, (2 * self.H, 0))}

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        s, s_t = slots(T, save, (B, 4 * H), xp)  # r, z, n, W_hn h + b_hn
        ws = {"P": P, "Wt": transposed(P[0], T, B), "s": s, "s_t": s_t, "hp": xp.new_empty(B, 3 * H), "save": save}
        ws["bias"] = None if P[1] is None else F.pad(P[1], (2 * H, 0))  # (3H): 0, 0, b_hn
        return ws

    def fstep(self, t, xp_t, state, ws, out_t):
        h = state[0]
        H = self.H
        st = ws["s_t"]
        s = st[t % len(st)]
        hp = ws["hp"]
        if ws["bias"] is None:
            torch.mm(h, ws["Wt"], out=hp)
        else:
            torch.addmm(ws["bias"], h, ws["Wt"], out=hp)
        rz = torch.add(xp_t[:, : 2 * H], hp[:, : 2 * H], out=s[:, : 2 * H]).sigmoid_()
        r, z = rz[:, :H], rz[:, H:]
        n = torch.addcmul(xp_t[:, 2 * H :], r, hp[:, 2 * H :], out=s[:, 2 * H : 3 * H]).tanh_()
        if ws["save"]:
            s[:, 3 * H :].copy_(hp[:, 2 * H :])
        torch.lerp(n, h, z, out=out_t)
        return (out_t,)

    def begin_backward(self, ws, state0, out):
        T, B, _ = ws["s"].shape
        H = self.H
        ws["dX"], ws["dH"] = out.new_empty(T, B, 3 * H), out.new_empty(T, B, 3 * H)
        ws["dX_t"], ws["dH_t"] = steps(ws["dX"].view(T, B, 3, H)), steps(ws["dH"])

    def factors(self, ws, state0, out, t0, t1):
        S = ws["s"][t0:t1]
        n_, B, _ = S.shape
        H = self.H
        r, z, n, hpn = S.view(n_, B, 4, H).unbind(2)
        Kx = S.new_empty(n_, B, 3, H)  # dh -> dxp: r, z, n
        kn = update_gate_factors(z, n, previous_chunk(state0[0], out, t0, t1), Kx[:, :, 1], Kx[:, :, 2])
        torch.mul(kn * hpn, r - r * r, out=Kx[:, :, 0])
        Kh = Kx.clone()  # dh -> dhp: r, z as for xp, n times r
        Kh[:, :, 2].mul_(r)
        ws.update(Kx=steps(Kx), Kh=steps(Kh), z=steps(z))

    def bstep(self, t, dh, drest, dy_prev, ws):
        k = t - ws["t0"]
        d = dh.unsqueeze(1)
        torch.mul(d, ws["Kx"][k], out=ws["dX_t"][t])
        dH = ws["dH_t"][t]
        torch.mul(d, ws["Kh"][k], out=dH.view(dH.shape[0], 3, -1))
        dh_prev = mm_into(dy_prev, dH, ws["P"][0])
        return dh_prev.addcmul_(dh, ws["z"][k]), ()

    def finish(self, ws, state0, out, needs):
        dH = ws["dH"]
        dW = grad_weight(dH, state0[0], out) if needs[0] else None
        db = sum_bt(dH[:, :, 2 * self.H :]) if needs[1] and ws["P"][1] is not None else None
        return ws["dX"], (dW, db)


class GRUBeforeScan(ScanKernel):
    r"""GRU, reset before the product: :math:`n = \tanh(\mathrm{xp}_n + W_{hn}(r \odot h) + b_{hn})`, a
    second dependent product per step. Backward: :math:`\bar{(rh)} = \delta_n W_{hn}`,
    :math:`\delta_r = \bar{(rh)} h\, r(1-r)`,
    :math:`\bar h_{t-1} = (\delta_r, \delta_z) W_{h\{r,z\}} + \bar h z + \bar{(rh)} r`.
    ``b_hn`` is added to xp before the Function (autograd sums its gradient)."""

    saved_keys = ("rz", "n")

    def prepare(self, cell, xp):
        if cell.bias_hh is None:
            return xp
        return xp + F.pad(cell.bias_hh[2 * self.H :], (2 * self.H, 0))

    param_names = ("weight_hh",)

    def substitutes(self, P):
        if self.cell.bias_hh is None:
            return {"weight_hh": P[0]}
        return {"weight_hh": P[0], "bias_hh": P[0].new_zeros(3 * self.H)}  # b_hn is in xp already: add 0

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        Wt = transposed(P[0], T, B)
        rz, rz_t = slots(T, save, (B, 2 * H), xp)
        n, n_t = slots(T, save, (B, H), xp)
        return {
            "P": P,
            "Wrz_t": Wt[:, : 2 * H],
            "Wn_t": Wt[:, 2 * H :],
            "rz": rz,
            "rz_t": rz_t,
            "n": n,
            "n_t": n_t,
            "rh": xp.new_empty(B, H),
        }

    def fstep(self, t, xp_t, state, ws, out_t):
        h = state[0]
        H = self.H
        rzt, nt = ws["rz_t"], ws["n_t"]
        rz = torch.addmm(xp_t[:, : 2 * H], h, ws["Wrz_t"], out=rzt[t % len(rzt)]).sigmoid_()
        rh = torch.mul(rz[:, :H], h, out=ws["rh"])
        n = torch.addmm(xp_t[:, 2 * H :], rh, ws["Wn_t"], out=nt[t % len(nt)]).tanh_()
        torch.lerp(n, h, rz[:, H:], out=out_t)
        return (out_t,)

    def begin_backward(self, ws, state0, out):
        T, B, H = ws["n"].shape
        ws["dX"] = out.new_empty(T, B, 3 * H)
        ws["dX_t"] = steps(ws["dX"])
        W = ws["P"][0]
        ws["Wrz"], ws["Wn"] = W[: 2 * H], W[2 * H :]

    def factors(self, ws, state0, out, t0, t1):
        RZ, N = ws["rz"][t0:t1], ws["n"][t0:t1]
        n_, B, H = N.shape
        r, z = RZ[:, :, :H], RZ[:, :, H:]
        hp = previous_chunk(state0[0], out, t0, t1)
        K = RZ.new_empty(n_, B, 2, H)  # dh -> dxp: z, n
        update_gate_factors(z, N, hp, K[:, :, 0], K[:, :, 1])
        ws.update(K=steps(K), Kr=steps(hp * (r - r * r)), r=steps(r), z=steps(z))

    def bstep(self, t, dh, drest, dy_prev, ws):
        k = t - ws["t0"]
        dX = ws["dX_t"][t]  # (B, 3H)
        H = self.H
        torch.mul(dh.unsqueeze(1), ws["K"][k], out=dX[:, H:].view(-1, 2, H))
        drh = torch.mm(dX[:, 2 * H :], ws["Wn"])  # dL/d(r h): (B, H)
        torch.mul(drh, ws["Kr"][k], out=dX[:, :H])
        dh_prev = mm_into(dy_prev, dX[:, : 2 * H], ws["Wrz"])
        dh_prev.addcmul_(dh, ws["z"][k]).addcmul_(drh, ws["r"][k])
        return dh_prev, ()

    def finish(self, ws, state0, out, needs):
        dX = ws["dX"]  # the gradients at the products' outputs are those at xp: rz rows, n rows
        return dX, (grad_weight_reset_before(dX, ws["rz"], state0[0], out) if needs[0] else None,)
