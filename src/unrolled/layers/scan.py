r"""The scan path: one direction of one layer as one autograd Function with a hand-written BPTT backward.

Backpropagation through time written out (Werbos 1990; Goodfellow et al., *Deep Learning* §10.2.2). A cell's
step is split into a recurrent product and pointwise math,

.. math::
    A_t = \mathrm{xp}_t + h_{t-1} W_{hh}^\top, \qquad (h_t, s_t) = \mathrm{pointwise}(A_t, h_{t-1}, s_{t-1}),

and the gradient flows backwards as

.. math::
    \delta A_t = \frac{\partial \mathrm{pointwise}}{\partial A_t}^{\!\top} (\bar h_t, \bar s_t), \qquad
    \bar h_{t-1} = \frac{\partial L}{\partial y_{t-1}} + \delta A_t W_{hh} + (\text{direct terms}), \qquad
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta A_t^\top h_{t-1}.

* Forward, per step: one fused ``addmm`` for all recurrent gates and the cell's pointwise math, written
  into preallocated buffers. With gradients on it keeps only what the backward needs (activated gates,
  cell states); with gradients off it runs the same loop on one reused scratch step and keeps nothing.
* Backward: the factors of each pointwise derivative that do not depend on the incoming gradient are
  computed for all steps at once before the loop; the loop does a handful of multiplies and the one
  product :math:`\delta A_t W_{hh}` per step; :math:`\partial L/\partial W_{hh}` is one large product after
  the loop.
* The gradient w.r.t. the projected inputs ``xp`` is returned, so autograd carries it through
  ``cell.project_input`` (input weights, input biases, input LayerNorm, ``dx``): the path stays generic.

Each supported cell supplies a :class:`ScanKernel` (its pointwise forward and backward), resolved once
through the registry :data:`SCAN_KERNELS`. Covered: :class:`~unrolled.cells.LSTMCell` (plain and peephole,
no projection), :class:`~unrolled.cells.ElmanCell` (every nonlinearity), :class:`~unrolled.cells.GRUCell`
(both resets), :class:`~unrolled.cells.LeakyCell` (fixed or learned time constants),
:class:`~unrolled.cells.LayerNormLSTMCell` and :class:`~unrolled.cells.LayerNormGRUCell` (both resets).
Others (e.g. Jordan) stay on the generic loop.

Variable lengths: every sequence is run over all T steps (padding only produces values that nothing valid
reads), the final state of sequence b is taken at its own last step ``lengths[b] - 1``, and the backward
injects the final-state gradient there. Outputs past a sequence's end are zeroed by the caller. Padded
inputs must be finite.

The backward is not itself differentiable: ``create_graph=True`` raises (use the loop backend for
higher-order gradients, e.g. gradient penalties).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from unrolled.cells.activations import ACTIVATIONS
from unrolled.cells.base import RecurrentCell, State
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.cells.leaky import LeakyCell
from unrolled.cells.lstm import LSTMCell

__all__ = [
    "SCAN_BEATS_FUSED_ON_CPU",
    "SCAN_KERNELS",
    "ScanKernel",
    "prefer_scan_over_fused",
    "scan",
    "scan_kernel",
    "supports_scan",
]

Workspace = dict[str, Any]

# nonlinearity -> (in-place forward, derivative written in terms of the output y = phi(a))
_POINTWISE: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "tanh": (Tensor.tanh_, lambda y: 1 - y * y),
    "sigmoid": (Tensor.sigmoid_, lambda y: y * (1 - y)),
    "relu": (Tensor.relu_, lambda y: (y > 0).to(y.dtype)),
    "identity": (lambda y: y, torch.ones_like),
}
_NAME_OF_ACTIVATION = {fn: name for name, fn in ACTIVATIONS.items()}
_layer_norm_backward = torch.ops.aten.native_layer_norm_backward


def _steps(buffer: Tensor) -> list[Tensor]:
    return list(buffer.unbind(0))


def _slots(T: int, save: bool, shape: tuple[int, ...], like: Tensor, scratch: int = 1) -> tuple[Tensor, list]:
    """A (T, *shape) buffer when saving, else ``scratch`` reused slots; returns it and its per-step views."""
    buf = like.new_empty((T if save else scratch, *shape))
    return buf, _steps(buf)


def _mm_into(bias: Tensor | None, a: Tensor, b: Tensor) -> Tensor:
    """bias + a @ b, or a @ b when there is no bias."""
    return torch.mm(a, b) if bias is None else torch.addmm(bias, a, b)


def _previous(first: Tensor, seq: Tensor) -> Tensor:
    """(T, B, ·) values at t - 1: ``first`` at t = 0, then seq[:-1]."""
    return torch.cat([first.unsqueeze(0), seq[:-1]])


def _prev(first: Tensor, seq: Tensor, t0: int, t1: int) -> Tensor:
    """seq[t - 1] for t in t0..t1-1, with seq[-1] = first: (t1 - t0, B, ·); a view unless t0 == 0."""
    if t0 > 0:
        return seq[t0 - 1 : t1 - 1]
    return torch.cat([first.unsqueeze(0), seq[: t1 - 1]])


def _grad_weight(dA: Tensor, h0: Tensor, out: Tensor) -> Tensor:
    """sum_t dA_t^T h_{t-1}, h_{-1} = h0, in two large products: dA (T, B, G), h0 (B, O), out (T, B, O)."""
    G, O = dA.shape[-1], out.shape[-1]
    dW = dA[0].t() @ h0  # (G, O)
    if dA.shape[0] > 1:
        dW.addmm_(dA[1:].reshape(-1, G).t(), out[:-1].reshape(-1, O))
    return dW


class _ChunkedGradWeight:
    """sum_t dA_t^T h_{t-1} accumulated while the backward loop walks t downwards, one product per chunk of
    steps, so the per-step dA need not be kept for all T: one reused (chunk, B, G) buffer."""

    def __init__(self, T: int, B: int, G: int, h0: Tensor, out: Tensor, chunk: int = 16):
        self.buf = out.new_empty(min(chunk, T), B, G)
        self.slots = _steps(self.buf)
        self.h0, self.out = h0, out
        self.dW: Tensor | None = None

    def add(self, t: int, dA_t: Tensor) -> None:
        k = t % len(self.slots)
        self.slots[k].copy_(dA_t)
        if k == 0:  # steps t .. t + n - 1 are in the buffer
            n = min(len(self.slots), self.out.shape[0] - t)
            G, O = self.buf.shape[-1], self.out.shape[-1]
            part = self.buf[0].t() @ (self.h0 if t == 0 else self.out[t - 1])  # (G, O)
            if n > 1:
                part.addmm_(self.buf[1:n].reshape(-1, G).t(), self.out[t : t + n - 1].reshape(-1, O))
            self.dW = part if self.dW is None else self.dW.add_(part)


def _normalized(x: Tensor, mean: Tensor, rstd: Tensor) -> Tensor:
    """(x - mean) * rstd, the LayerNorm input after centring and scaling (before the affine part)."""
    return (x - mean) * rstd


def _sum_bt(x: Tensor) -> Tensor:
    return x.reshape(-1, x.shape[-1]).sum(0)


class ScanKernel:
    """The pointwise part of one cell kind, forward and backward, for :func:`scan`.

    Subclasses set ``n_state`` (tensors in the state, ``h`` first) and ``saved_keys`` (the workspace entries
    the backward needs) and implement the hooks below. ``t`` is the step index, ``ws`` a dict holding the
    parameters (key ``"P"``), buffers and scratch; a hook never modifies an incoming gradient in place.
    """

    n_state: int = 1
    saved_keys: tuple[str, ...] = ()
    #: steps whose derivative factors are computed together (vectorised, in reused chunk-sized temporaries)
    chunk: int = 16

    def __init__(self, cell: RecurrentCell):
        self.H = cell.hidden_size
        self.output_size = cell.output_size

    def prepare(self, cell: RecurrentCell, xp: Tensor) -> Tensor:
        """Autograd-visible preparation of xp (T, B, G) before the Function (default: none)."""
        return xp

    def params(self, cell: RecurrentCell) -> tuple[Tensor | None, ...]:
        """Tensors the recurrence uses, passed to the Function (their gradients come from :meth:`finish`)."""
        raise NotImplementedError

    def workspace(self, xp: Tensor, state0: tuple[Tensor, ...], P: tuple, save: bool) -> Workspace:
        raise NotImplementedError

    def fstep(self, t: int, xp_t: Tensor, state: tuple[Tensor, ...], ws: Workspace, out_t: Tensor) -> tuple:
        """One forward step: writes y_t into ``out_t`` (B, O) and returns the new state."""
        raise NotImplementedError

    def pack(self, ws: Workspace) -> None:
        """After a saving forward: turn per-step lists in ``ws`` into tensors (default: nothing to do)."""

    def begin_backward(self, ws: Workspace, state0: tuple[Tensor, ...], out: Tensor) -> None:
        """Allocate the gradient buffers of the backward loop."""
        raise NotImplementedError

    def factors(self, ws: Workspace, state0: tuple[Tensor, ...], out: Tensor, t0: int, t1: int) -> None:
        """Compute, for steps t0..t1-1 at once (one chunk), the derivative factors that do not depend on the
        incoming gradient; :meth:`bstep` reads them at index ``t - ws["t0"]``."""
        raise NotImplementedError

    def bstep(self, t: int, dh: Tensor, drest: tuple, dy_prev: Tensor | None, ws: Workspace) -> tuple:
        """One backward step from dL/dh_t (total) and the other state gradients; returns those at t - 1
        (``dy_prev`` = dL/dy_{t-1} is added into dh_{t-1}; None at t = 0 or without output gradient)."""
        raise NotImplementedError

    def finish(self, ws: Workspace, state0: tuple[Tensor, ...], out: Tensor, needs: tuple) -> tuple:
        """After the loop: dL/dxp (T, B, G) and the gradients of :meth:`params` (None where not needed)."""
        raise NotImplementedError


# --- Elman ------------------------------------------------------------------------------------------------
class ElmanScan(ScanKernel):
    r""":math:`h_t = \phi(\mathrm{xp}_t + W h_{t-1})`; :math:`\delta A_t = \bar h_t \odot \phi'`."""

    def __init__(self, cell: ElmanCell):
        super().__init__(cell)
        self.act, self.dact = _POINTWISE[_NAME_OF_ACTIVATION[cell.phi]]

    def params(self, cell):
        return (cell.weight_hh,)

    def workspace(self, xp, state0, P, save):
        return {"P": P, "Wt": P[0].t()}

    def fstep(self, t, xp_t, state, ws, out_t):
        self.act(torch.addmm(xp_t, state[0], ws["Wt"], out=out_t))
        return (out_t,)

    def begin_backward(self, ws, state0, out):
        ws["dA"] = torch.empty_like(out)
        ws["dA_t"] = _steps(ws["dA"])

    def factors(self, ws, state0, out, t0, t1):
        ws["K"] = _steps(self.dact(out[t0:t1]))

    def bstep(self, t, dh, drest, dy_prev, ws):
        dA = torch.mul(dh, ws["K"][t - ws["t0"]], out=ws["dA_t"][t])
        return _mm_into(dy_prev, dA, ws["P"][0]), ()

    def finish(self, ws, state0, out, needs):
        return ws["dA"], (_grad_weight(ws["dA"], state0[0], out) if needs[0] else None,)


# --- LSTM -------------------------------------------------------------------------------------------------
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

    def params(self, cell):
        if self.peephole:
            return (cell.weight_hh, cell.weight_ci, cell.weight_cf, cell.weight_co)
        return (cell.weight_hh,)

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        ws = {"P": P, "Wt": P[0].t()}
        ws["gates"], ws["gates_t"] = _slots(T, save, (B, 4 * H), xp)
        ws["c"], ws["c_t"] = _slots(T, save, (B, H), xp, scratch=2)
        ws["tc"], ws["tc_t"] = _slots(T, save, (B, H), xp)
        g4 = ws["gates"].view(-1, B, 4, H)  # per-step views of each gate, made once (not per step)
        ws["i_t"], ws["f_t"], ws["g_t"], ws["o_t"] = (_steps(g4[:, :, k]) for k in range(4))
        if self.peephole:
            ws["w_if"] = torch.stack([P[1], P[2]])  # (2, H)
            ws["if_t"], ws["ifg_t"] = _steps(g4[:, :, :2]), _steps(g4[:, :, :3])
        return ws

    def fstep(self, t, xp_t, state, ws, out_t):
        h, c = state
        gt = ws["gates_t"]
        k = t % len(gt)
        a = torch.addmm(xp_t, h, ws["Wt"], out=gt[k])  # (B, 4H): i, f, g, o
        i, f, sg, o = ws["i_t"][k], ws["f_t"][k], ws["g_t"][k], ws["o_t"][k]
        if self.peephole:
            ws["if_t"][k].addcmul_(c.unsqueeze(1), ws["w_if"])
        sg.mul_(2)
        (ws["ifg_t"][k] if self.peephole else a).sigmoid_()  # sg = sigma(2 g~), g = 2 sg - 1
        ct = ws["c_t"]
        c_new = torch.mul(f, c, out=ct[t % len(ct)])
        c_new.addcmul_(i, sg, value=2).sub_(i)  # f c + i (2 sg - 1)
        if self.peephole:
            o.addcmul_(c_new, ws["P"][3]).sigmoid_()
        torch.mul(o, torch.tanh(c_new, out=ws["tc_t"][k]), out=out_t)
        return out_t, c_new

    def begin_backward(self, ws, state0, out):
        T, B, _ = ws["gates"].shape
        ws["dA"] = ws["gates"].new_empty(T, B, 4 * self.H)
        ws["dA_t"] = _steps(ws["dA"].view(T, B, 4, -1))

    def factors(self, ws, state0, out, t0, t1):
        G, tc = ws["gates"][t0:t1], ws["tc"][t0:t1]
        n, B, _ = G.shape
        i, f, sg, o = G.view(n, B, 4, -1).unbind(2)
        K = G.new_empty(n, B, 4, self.H)  # factors: i, f, g multiply dc; o multiplies dh
        g = sg * 2 - 1
        torch.mul(g, torch.addcmul(i, i, i, value=-1), out=K[:, :, 0])  # g i (1 - i)
        cp = _prev(state0[1], ws["c"], t0, t1)  # c_{t-1}
        torch.mul(cp, torch.addcmul(f, f, f, value=-1), out=K[:, :, 1])  # c_{t-1} f (1 - f)
        torch.mul(i, torch.addcmul(g.new_ones(()), g, g, value=-1), out=K[:, :, 2])  # i (1 - g^2)
        torch.mul(tc, torch.addcmul(o, o, o, value=-1), out=K[:, :, 3])  # tanh(c) o (1 - o)
        Kc = torch.addcmul(g.new_ones(()), tc, tc, value=-1).mul_(o)  # dh -> dc: o (1 - tanh^2 c)
        Kcp = f  # dc -> dc_{t-1}
        if self.peephole:
            _, w_ci, w_cf, w_co = ws["P"]
            Kc.addcmul_(K[:, :, 3], w_co)
            Kcp = f + K[:, :, 0] * w_ci + K[:, :, 1] * w_cf
        ws.update(K=_steps(K[:, :, :3]), Ko=_steps(K[:, :, 3]), Kc=_steps(Kc), Kcp=_steps(Kcp))

    def bstep(self, t, dh, drest, dy_prev, ws):
        k = t - ws["t0"]
        dc = torch.addcmul(drest[0], dh, ws["Kc"][k])  # (B, H)
        dA = ws["dA_t"][t]  # (B, 4, H)
        torch.mul(dc.unsqueeze(1), ws["K"][k], out=dA[:, :3])
        torch.mul(dh, ws["Ko"][k], out=dA[:, 3])
        dc.mul_(ws["Kcp"][k])
        return _mm_into(dy_prev, dA.view(dA.shape[0], -1), ws["P"][0]), (dc,)

    def finish(self, ws, state0, out, needs):
        dA = ws["dA"]
        grads: list[Tensor | None] = [_grad_weight(dA, state0[0], out) if needs[0] else None]
        if self.peephole:
            d4 = dA.view(*dA.shape[:2], 4, -1)
            C = ws["c"]
            for k, need in ((0, needs[1]), (1, needs[2])):  # w_ci, w_cf: sum_t dA_k,t c_{t-1}
                dk = d4[:, :, k]
                grads.append(_sum_bt(dk[1:] * C[:-1]) + _sum_bt(dk[:1] * state0[1]) if need else None)
            grads.append(_sum_bt(d4[:, :, 3] * C) if needs[3] else None)
        return dA, tuple(grads)


# --- GRU --------------------------------------------------------------------------------------------------
class GRUAfterScan(ScanKernel):
    r"""GRU, reset after the product: :math:`n = \tanh(\mathrm{xp}_n + r \odot (W_{hn} h + b_{hn}))`.

    With :math:`k_n = (1 - z)(1 - n^2)`: :math:`\delta_{xn} = \bar h k_n`,
    :math:`\delta_{hn} = \bar h k_n r`, :math:`\delta_r = \bar h k_n (W_{hn} h + b_{hn})\, r(1-r)`,
    :math:`\delta_z = \bar h (h_{t-1} - n) z(1-z)`, :math:`\bar h_{t-1} = \delta_h W_{hh} + \bar h z`.
    """

    saved_keys = ("s",)

    def params(self, cell):
        return (cell.weight_hh, None if cell.bias_hh is None else cell.bias_hh[2 * self.H :])

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        s, s_t = _slots(T, save, (B, 4 * H), xp)  # r, z, n, W_hn h + b_hn
        ws = {"P": P, "Wt": P[0].t(), "s": s, "s_t": s_t, "hp": xp.new_empty(B, 3 * H), "save": save}
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
        ws["dX_t"], ws["dH_t"] = _steps(ws["dX"].view(T, B, 3, H)), _steps(ws["dH"])

    def factors(self, ws, state0, out, t0, t1):
        S = ws["s"][t0:t1]
        n_, B, _ = S.shape
        H = self.H
        r, z, n, hpn = S.view(n_, B, 4, H).unbind(2)
        Kx = S.new_empty(n_, B, 3, H)  # dh -> dxp: r, z, n
        kn = (1 - z) * (1 - n * n)
        torch.mul(kn * hpn, r - r * r, out=Kx[:, :, 0])
        torch.mul(_prev(state0[0], out, t0, t1) - n, z - z * z, out=Kx[:, :, 1])
        Kx[:, :, 2] = kn
        Kh = Kx.clone()  # dh -> dhp: r, z as for xp, n times r
        Kh[:, :, 2].mul_(r)
        ws.update(Kx=_steps(Kx), Kh=_steps(Kh), z=_steps(z))

    def bstep(self, t, dh, drest, dy_prev, ws):
        k = t - ws["t0"]
        d = dh.unsqueeze(1)
        torch.mul(d, ws["Kx"][k], out=ws["dX_t"][t])
        dH = ws["dH_t"][t]
        torch.mul(d, ws["Kh"][k], out=dH.view(dH.shape[0], 3, -1))
        dh_prev = _mm_into(dy_prev, dH, ws["P"][0])
        return dh_prev.addcmul_(dh, ws["z"][k]), ()

    def finish(self, ws, state0, out, needs):
        dH = ws["dH"]
        dW = _grad_weight(dH, state0[0], out) if needs[0] else None
        db = _sum_bt(dH[:, :, 2 * self.H :]) if needs[1] and ws["P"][1] is not None else None
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

    def params(self, cell):
        return (cell.weight_hh,)

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        W = P[0]
        rz, rz_t = _slots(T, save, (B, 2 * H), xp)
        n, n_t = _slots(T, save, (B, H), xp)
        return {
            "P": P,
            "Wrz_t": W[: 2 * H].t(),
            "Wn_t": W[2 * H :].t(),
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
        ws["dX_t"] = _steps(ws["dX"])
        W = ws["P"][0]
        ws["Wrz"], ws["Wn"] = W[: 2 * H], W[2 * H :]

    def factors(self, ws, state0, out, t0, t1):
        RZ, N = ws["rz"][t0:t1], ws["n"][t0:t1]
        n_, B, H = N.shape
        r, z = RZ[:, :, :H], RZ[:, :, H:]
        hp = _prev(state0[0], out, t0, t1)
        K = RZ.new_empty(n_, B, 2, H)  # dh -> dxp: z, n
        torch.mul(hp - N, z - z * z, out=K[:, :, 0])
        torch.mul(1 - z, 1 - N * N, out=K[:, :, 1])
        ws.update(K=_steps(K), Kr=_steps(hp * (r - r * r)), r=_steps(r), z=_steps(z))

    def bstep(self, t, dh, drest, dy_prev, ws):
        k = t - ws["t0"]
        dX = ws["dX_t"][t]  # (B, 3H)
        H = self.H
        torch.mul(dh.unsqueeze(1), ws["K"][k], out=dX[:, H:].view(-1, 2, H))
        drh = torch.mm(dX[:, 2 * H :], ws["Wn"])  # dL/d(r h): (B, H)
        torch.mul(drh, ws["Kr"][k], out=dX[:, :H])
        dh_prev = _mm_into(dy_prev, dX[:, : 2 * H], ws["Wrz"])
        dh_prev.addcmul_(dh, ws["z"][k]).addcmul_(drh, ws["r"][k])
        return dh_prev, ()

    def finish(self, ws, state0, out, needs):
        dX = ws["dX"]
        if not needs[0]:
            return dX, (None,)
        H = self.H
        dWrz = _grad_weight(dX[:, :, : 2 * H], state0[0], out)
        rh = ws["rz"][:, :, :H] * _previous(state0[0], out)  # r_t h_{t-1}: (T, B, H)
        dWn = dX[:, :, 2 * H :].reshape(-1, H).t() @ rh.reshape(-1, H)
        return dX, (torch.cat([dWrz, dWn]),)


# --- leaky integrator --------------------------------------------------------------------------------------
class LeakyScan(ScanKernel):
    r""":math:`s_t = s_{t-1} + w (a_t - s_{t-1})`, :math:`a_t = \phi(\mathrm{xp}_t + W s_{t-1})`,
    :math:`w = 1/\tau`. Backward: :math:`\delta A = \bar s_t\, w \phi'`,
    :math:`\bar s_{t-1} = \delta A\, W + \bar s_t (1 - w)`, :math:`\bar w = \sum_t \bar s_t (a_t - s_{t-1})`
    (autograd maps it onto ``tau_raw``)."""

    saved_keys = ("a",)

    def __init__(self, cell: LeakyCell):
        super().__init__(cell)
        self.act, self.dact = _POINTWISE[_NAME_OF_ACTIVATION[cell.phi]]

    def params(self, cell):
        return (cell.weight_hh, cell.tau.reciprocal())

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        a, a_t = _slots(T, save, (B, self.H), xp)
        return {"P": P, "Wt": P[0].t(), "a": a, "a_t": a_t}

    def fstep(self, t, xp_t, state, ws, out_t):
        s = state[0]
        at = ws["a_t"]
        a = self.act(torch.addmm(xp_t, s, ws["Wt"], out=at[t % len(at)]))
        torch.lerp(s, a, ws["P"][1], out=out_t)
        return (out_t,)

    def begin_backward(self, ws, state0, out):
        ws["keep"] = 1 - ws["P"][1]
        ws["dA"] = torch.empty_like(out)
        ws["dA_t"] = _steps(ws["dA"])
        ws["ds"] = [None] * out.shape[0]

    def factors(self, ws, state0, out, t0, t1):
        ws["K"] = _steps(self.dact(ws["a"][t0:t1]).mul_(ws["P"][1]))

    def bstep(self, t, dh, drest, dy_prev, ws):
        ws["ds"][t] = dh
        dA = torch.mul(dh, ws["K"][t - ws["t0"]], out=ws["dA_t"][t])
        return _mm_into(dy_prev, dA, ws["P"][0]).addcmul_(dh, ws["keep"]), ()

    def finish(self, ws, state0, out, needs):
        dA = ws["dA"]
        dW = _grad_weight(dA, state0[0], out) if needs[0] else None
        dw = None
        if needs[1]:
            dw = _sum_bt(torch.stack(ws["ds"]) * (ws["a"] - _previous(state0[0], out)))
        return dA, (dW, dw)


# --- layer-normalised cells --------------------------------------------------------------------------------
def _ln_grads(dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, need_w: bool, need_b: bool):
    """Affine LayerNorm parameter gradients summed over (T, B): sum dy * x_hat, sum dy."""
    dw = _sum_bt(dy * _normalized(x, mean, rstd)) if need_w else None
    db = _sum_bt(dy) if need_b else None
    return dw, db


class LayerNormLSTMScan(ScanKernel):
    r"""Layer-normalised LSTM (Ba et al. 2016): the per-row LayerNorm backward
    :math:`\bar x = \tfrac{1}{\sigma}\big(\bar{\hat x} - \mathrm{mean}(\bar{\hat x}) - \hat x\,
    \mathrm{mean}(\bar{\hat x} \hat x)\big)` runs per step through ATen's ``native_layer_norm_backward``
    on the mean and reciprocal deviation saved by the forward; the recurrent LayerNorm's gain gradient is
    accumulated there too. tanh as in :class:`LSTMScan`, through one sigmoid."""

    n_state = 2
    saved_keys = ("hw", "gates", "c", "tl", "m2", "r2", "m3", "r3")

    def __init__(self, cell: LayerNormLSTMCell):
        super().__init__(cell)
        self.eps_hh, self.eps_c = cell.ln_hh.eps, cell.ln_c.eps

    def params(self, cell):
        return (cell.weight_hh, cell.ln_hh.weight, cell.ln_c.weight, cell.ln_c.bias)

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        ws: Workspace = {"P": P, "Wt": P[0].t(), "save": save}
        for key, width in (("hw", 4 * H), ("gates", 4 * H), ("tl", H)):
            ws[key], ws[key + "_t"] = _slots(T, save, (B, width), xp)
        ws["c"], ws["c_t"] = _slots(T, save, (B, H), xp, scratch=2)
        g4 = ws["gates"].view(-1, B, 4, H)
        ws["i_t"], ws["f_t"], ws["g_t"], ws["o_t"] = (_steps(g4[:, :, k]) for k in range(4))
        for key in ("m2", "r2", "m3", "r3"):  # LayerNorm means and reciprocal deviations, per step
            ws[key] = [None] * T
        return ws

    def fstep(self, t, xp_t, state, ws, out_t):
        h, c = state
        H = self.H
        _, a2, a3, b3 = ws["P"]
        k = t % len(ws["hw_t"])
        hw = torch.mm(h, ws["Wt"], out=ws["hw_t"][k])
        ln, m2, r2 = torch.native_layer_norm(hw, (4 * H,), a2, None, self.eps_hh)
        a = torch.add(ln, xp_t, out=ws["gates_t"][k])  # xp_t + LN(W_hh h): i, f, g, o
        i, f, sg, o = ws["i_t"][k], ws["f_t"][k], ws["g_t"][k], ws["o_t"][k]
        sg.mul_(2)
        a.sigmoid_()  # sg = sigma(2 g~), g = 2 sg - 1
        ct = ws["c_t"]
        c_new = torch.mul(f, c, out=ct[t % len(ct)])
        c_new.addcmul_(i, sg, value=2).sub_(i)
        lc, m3, r3 = torch.native_layer_norm(c_new, (H,), a3, b3, self.eps_c)
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
        ws["dA_t"] = _steps(ws["dA"].view(T, B, 4, H))
        ws["dL"] = out.new_empty(T, B, H)  # gradient at LN(c)'s output
        ws["dL_t"] = _steps(ws["dL"])
        ws["dW"] = _ChunkedGradWeight(T, B, 4 * H, state0[0], out)
        ws["da2"] = None
        for key in ("hw", "c", "m2", "r2", "m3", "r3"):
            ws[key + "_s"] = _steps(ws[key])

    def factors(self, ws, state0, out, t0, t1):
        G, tl = ws["gates"][t0:t1], ws["tl"][t0:t1]
        n, B, _ = G.shape
        H = self.H
        i, f, sg, o = G.view(n, B, 4, H).unbind(2)
        g = sg * 2 - 1
        K = G.new_empty(n, B, 3, H)  # dc -> dA: i, f, g
        torch.mul(g, torch.addcmul(i, i, i, value=-1), out=K[:, :, 0])
        torch.mul(_prev(state0[1], ws["c"], t0, t1), torch.addcmul(f, f, f, value=-1), out=K[:, :, 1])
        torch.mul(i, torch.addcmul(g.new_ones(()), g, g, value=-1), out=K[:, :, 2])
        Ko = torch.addcmul(o, o, o, value=-1).mul_(tl)
        Kl = torch.addcmul(g.new_ones(()), tl, tl, value=-1).mul_(o)
        ws.update(K=_steps(K), Ko=_steps(Ko), Kl=_steps(Kl), f=_steps(f))

    def bstep(self, t, dh, drest, dy_prev, ws):
        H = self.H
        W, a2, a3, b3 = ws["P"]
        k = t - ws["t0"]
        dl = torch.mul(dh, ws["Kl"][k], out=ws["dL_t"][t])
        m3, r3 = ws["m3_s"][t], ws["r3_s"][t]
        dc = _layer_norm_backward(dl, ws["c_s"][t], (H,), m3, r3, a3, b3, (True, False, False))[0]
        dc.add_(drest[0])
        dA = ws["dA_t"][t]
        torch.mul(dc.unsqueeze(1), ws["K"][k], out=dA[:, :3])
        torch.mul(dh, ws["Ko"][k], out=dA[:, 3])
        dc.mul_(ws["f"][k])
        dA2 = dA.view(dA.shape[0], -1)
        dhw, da2, _ = _layer_norm_backward(
            dA2, ws["hw_s"][t], (4 * H,), ws["m2_s"][t], ws["r2_s"][t], a2, None, (True, True, False)
        )
        ws["dW"].add(t, dhw)
        ws["da2"] = da2 if ws["da2"] is None else ws["da2"].add_(da2)
        return _mm_into(dy_prev, dhw, W), (dc,)

    def finish(self, ws, state0, out, needs):
        dA = ws["dA"]
        dW = ws["dW"].dW if needs[0] else None
        da3, db3 = _ln_grads(ws["dL"], ws["c"], ws["m3"], ws["r3"], needs[2], needs[3])
        return dA, (dW, ws["da2"] if needs[1] else None, da3, db3)


class LayerNormGRUScan(ScanKernel):
    r"""Layer-normalised GRU (Ba et al. 2016), both resets. "after": LN of the recurrent product's r, z rows
    and n rows; "before": LN of :math:`W_{h\{r,z\}} h` and of the second product :math:`W_{hn}(r \odot h)`."""

    saved_keys = ("hrz", "hn", "rz", "n", "m1", "r1", "m2", "r2")

    def __init__(self, cell: LayerNormGRUCell):
        super().__init__(cell)
        self.after = cell.reset == "after"
        self.eps_rz, self.eps_n = cell.ln_hrz.eps, cell.ln_hn.eps

    def params(self, cell):
        return (cell.weight_hh, cell.ln_hrz.weight, cell.ln_hn.weight, cell.ln_hn.bias)

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        W = P[0]
        ws: Workspace = {"P": P, "Wrz_t": W[: 2 * H].t(), "Wn_t": W[2 * H :].t(), "Wt": W.t()}
        if self.after:
            ws["hp"], ws["hp_t"] = _slots(T, save, (B, 3 * H), xp)  # W_hh h: r, z, n rows
        else:
            ws["hrz"], ws["hrz_t"] = _slots(T, save, (B, 2 * H), xp)
            ws["hn"], ws["hn_t"] = _slots(T, save, (B, H), xp)
        ws["rz"], ws["rz_t"] = _slots(T, save, (B, 2 * H), xp)
        ws["n"], ws["n_t"] = _slots(T, save, (B, H), xp)
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
        ws["dX_t"] = _steps(ws["dX"])
        ws["dln"] = ws["dX"][:, :, 2 * H :] if not self.after else out.new_empty(T, B, H)
        ws["dln_t"] = _steps(ws["dln"])
        ws["dH"] = out.new_empty(T, B, 3 * H)  # gradients at the products' outputs: r, z rows, n rows
        ws["dH_t"] = _steps(ws["dH"])
        for key in ("hrz", "hn", "m1", "r1", "m2", "r2"):
            ws[key + "_s"] = _steps(ws[key])
        W = ws["P"][0]
        ws["Wrz"], ws["Wn"] = W[: 2 * H], W[2 * H :]

    def factors(self, ws, state0, out, t0, t1):
        RZ, N = ws["rz"][t0:t1], ws["n"][t0:t1]
        n_, B, H = N.shape
        _, a_rz, a_n, b_n = ws["P"]
        r, z = RZ[:, :, :H], RZ[:, :, H:]
        hp = _prev(state0[0], out, t0, t1)
        kn = (1 - z) * (1 - N * N)
        K = RZ.new_empty(n_, B, 3, H)  # dh -> dxp: r (after only), z, n
        torch.mul(hp - N, z - z * z, out=K[:, :, 1])
        K[:, :, 2] = kn
        if self.after:
            hn, m2, r2 = ws["hn"][t0:t1], ws["m2"][t0:t1], ws["r2"][t0:t1]
            ln = torch.addcmul(b_n, _normalized(hn, m2, r2), a_n)  # LN(W_hn h)
            torch.mul(kn * ln, r - r * r, out=K[:, :, 0])
            ws["Kln"] = _steps(kn * r)  # dh -> d LN(W_hn h)
        else:
            ws["Kr"] = _steps(hp * (r - r * r))  # d(r h) -> d r_pre
            ws["r"] = _steps(r)
        ws.update(K=_steps(K), z=_steps(z))

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
            dh_prev = _mm_into(dy_prev, dH, W)
        else:
            dh_prev = _mm_into(dy_prev, drz, ws["Wrz"]).addcmul_(drh, ws["r"][k])
        return dh_prev.addcmul_(dh, ws["z"][k]), ()

    def finish(self, ws, state0, out, needs):
        dX, dH = ws["dX"], ws["dH"]
        H = self.H
        dW = None
        if needs[0]:
            if self.after:
                dW = _grad_weight(dH, state0[0], out)
            else:
                dWrz = _grad_weight(dH[:, :, : 2 * H], state0[0], out)
                rh = ws["rz"][:, :, :H] * _previous(state0[0], out)
                dW = torch.cat([dWrz, dH[:, :, 2 * H :].reshape(-1, H).t() @ rh.reshape(-1, H)])
        da_rz, _ = _ln_grads(dX[:, :, : 2 * H], ws["hrz"], ws["m1"], ws["r1"], needs[1], False)
        da_n, db_n = _ln_grads(ws["dln"], ws["hn"], ws["m2"], ws["r2"], needs[2], needs[3])
        return dX, (dW, da_rz, da_n, db_n)


# --- registry ---------------------------------------------------------------------------------------------
def _lstm(cell: LSTMCell) -> ScanKernel | None:
    return LSTMScan(cell) if cell.proj_size == 0 else None


def _elman(cell: ElmanCell) -> ScanKernel | None:
    return ElmanScan(cell) if cell.phi in _NAME_OF_ACTIVATION else None


def _leaky(cell: LeakyCell) -> ScanKernel | None:
    return LeakyScan(cell) if cell.phi in _NAME_OF_ACTIVATION else None


def _gru(cell: GRUCell) -> ScanKernel:
    return GRUAfterScan(cell) if cell.reset == "after" else GRUBeforeScan(cell)


#: cell class -> factory of its kernel (None where the cell's configuration has none, e.g. LSTM projection).
SCAN_KERNELS: dict[type, Callable[[Any], ScanKernel | None]] = {
    ElmanCell: _elman,
    LSTMCell: _lstm,
    GRUCell: _gru,
    LeakyCell: _leaky,
    LayerNormLSTMCell: LayerNormLSTMScan,
    LayerNormGRUCell: LayerNormGRUScan,
}


def scan_kernel(cell: RecurrentCell) -> ScanKernel | None:
    """The scan kernel for this cell (exact class match), or None when it has none."""
    factory = SCAN_KERNELS.get(type(cell))
    return None if factory is None else factory(cell)


def supports_scan(cell: RecurrentCell) -> bool:
    """True when :func:`scan` can run this cell."""
    return scan_kernel(cell) is not None


#: Cells for which the scan path beats torch's own fused CPU kernel when gradients are needed (nn.RNN / nn.GRU
#: have no oneDNN path on CPU): cell class -> (also for inference, largest batch). Measured with
#: benchmarks/cells.py (BENCHMARKS.md): Elman trains at 0.66-0.94x nn.RNN's time at every size measured (its
#: inference is a tie, 0.92-1.05x); GRU trains at 0.5-0.7x nn.GRU's time up to B = 16, at 0.8-1.1x at B = 32
#: (depending on the process's allocator state) and 1.05-1.15x from B = 64, and its inference is slower at
#: small H. LSTM is absent: oneDNN's LSTM is faster.
SCAN_BEATS_FUSED_ON_CPU: dict[type, tuple[bool, int | None]] = {
    ElmanCell: (False, None),
    GRUCell: (False, 16),
}


def prefer_scan_over_fused(cells: list[RecurrentCell], x: Tensor, batch: int, needs_grad: bool) -> bool:
    """Whether a fusable layer of ``cells`` should run the scan path instead of torch's kernel, for inputs on
    ``x``'s device with ``batch`` sequences (CPU only, see :data:`SCAN_BEATS_FUSED_ON_CPU`)."""
    if x.device.type != "cpu":
        return False
    for cell in cells:
        rule = SCAN_BEATS_FUSED_ON_CPU.get(type(cell))
        if rule is None or not supports_scan(cell):
            return False
        also_inference, max_batch = rule
        if not (also_inference or needs_grad) or (max_batch is not None and batch > max_batch):
            return False
    return True


# --- the Function -----------------------------------------------------------------------------------------
def _capture(lengths: Tensor | None, T: int) -> dict[int, Tensor] | None:
    """Per step t, the (B, 1) mask of sequences whose last step is t; None when all have length T."""
    if lengths is None:
        return None
    last = lengths - 1
    return {int(t): (last == t).unsqueeze(1) for t in torch.unique(last).tolist()}


def _forward(kernel: ScanKernel, xp: Tensor, state0: tuple, P: tuple, capture, save: bool):
    T, B = xp.shape[0], xp.shape[1]
    ws = kernel.workspace(xp, state0, P, save)
    out = xp.new_empty(T, B, kernel.output_size)
    outs = out.unbind(0)
    state, final = state0, None
    fstep = kernel.fstep
    for t, xp_t in enumerate(xp.unbind(0)):
        state = fstep(t, xp_t, state, ws, outs[t])
        if capture is not None and t in capture:
            m = capture[t]
            prev = final if final is not None else tuple(torch.zeros_like(s) for s in state)
            final = tuple(torch.where(m, s, f) for s, f in zip(state, prev))
    if final is None:
        final = tuple(s.clone() for s in state)
    if save:
        kernel.pack(ws)
    return out, final, ws


class _ScanFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel: ScanKernel, capture, n_state: int, xp: Tensor, *tensors):
        state0, P = tensors[:n_state], tensors[n_state:]
        out, final, ws = _forward(kernel, xp, state0, P, capture, save=True)
        ctx.kernel, ctx.capture, ctx.n_state, ctx.n_params = kernel, capture, n_state, len(P)
        ctx.keys = kernel.saved_keys
        ctx.save_for_backward(*state0, *P, out, *(ws[k] for k in kernel.saved_keys))
        ctx.set_materialize_grads(False)
        return (out, *final)

    @staticmethod
    def backward(ctx, dout, *dfinal):
        if torch.is_grad_enabled():  # create_graph=True: the hand-written backward records no graph
            raise RuntimeError(
                "the scan path's backward is not differentiable (double backward / create_graph=True); "
                "expected a Recurrent with backend='loop' for higher-order gradients"
            )
        kernel, n, nP = ctx.kernel, ctx.n_state, ctx.n_params
        saved = ctx.saved_tensors
        state0, P, out = saved[:n], saved[n : n + nP], saved[n + nP]
        ws: Workspace = dict(zip(ctx.keys, saved[n + nP + 1 :]))
        ws["P"] = P
        T = out.shape[0]
        kernel.begin_backward(ws, state0, out)
        dys = dout.unbind(0) if dout is not None else None
        capture = ctx.capture if ctx.capture is not None else {T - 1: None}
        dh: Tensor = dys[T - 1] if dys is not None else torch.zeros_like(state0[0])
        drest = tuple(torch.zeros_like(s) for s in state0[1:])
        chunk = kernel.chunk
        for t in range(T - 1, -1, -1):
            if t == T - 1 or t % chunk == chunk - 1:  # entering the chunk of steps t0..t
                ws["t0"] = t - t % chunk
                kernel.factors(ws, state0, out, ws["t0"], t + 1)
            if t in capture:
                m = capture[t]
                m = None if m is None else m.to(dh.dtype)
                inject = [None if d is None else (d if m is None else d * m) for d in dfinal]
                grads = tuple(g if d is None else g + d for g, d in zip((dh, *drest), inject))
                dh, drest = grads[0], grads[1:]
            dh, drest = kernel.bstep(t, dh, drest, dys[t - 1] if dys is not None and t > 0 else None, ws)
        needs = ctx.needs_input_grad
        dxp, dP = kernel.finish(ws, state0, out, needs[4 + n :])
        dstate0 = tuple(g if need else None for g, need in zip((dh, *drest), needs[4 : 4 + n]))
        return (None, None, None, dxp if needs[3] else None, *dstate0, *dP)


def _as_tuple(state: State) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


def scan(cell: RecurrentCell, xp: Tensor, state: State, lengths: Tensor | None = None) -> tuple:
    r"""Run ``cell`` over projected inputs with the hand-written BPTT backward.

    Computes what the generic loop computes (``cell.step`` at every step, from ``state``), faster: see the
    module docstring. With gradients off (``torch.no_grad()`` or nothing requiring grad) it runs a plain
    loop and keeps no workspace.

    Args:
        cell: a cell with a scan kernel (:func:`supports_scan`).
        xp: ``cell.project_input(x)``, (T, B, G).
        state: the initial state (as ``cell.init_state``).
        lengths: optional (B,) long tensor in 1..T: the final state is each sequence's state at its own
            last step. Outputs past a sequence's end are *not* zeroed here (the caller masks them).

    Shape:
        - xp: (T, B, G); output: (T, B, O); state: as the cell's.

    Example::

        >>> cell = LSTMCell(8, 16)
        >>> x = torch.randn(5, 3, 8)
        >>> y, (h, c) = scan(cell, cell.project_input(x), cell.init_state(3))
    """
    kernel = scan_kernel(cell)
    if kernel is None:
        raise ValueError(
            f"{type(cell).__name__} with these options has no scan kernel; expected one of "
            f"{sorted(c.__name__ for c in SCAN_KERNELS)} (LSTM without projection)"
        )
    if xp.dim() != 3 or xp.shape[-1] != cell.projected_size:
        G = cell.projected_size
        raise ValueError(f"scan expected projected inputs (T, B, {G}), got {tuple(xp.shape)}")
    xp = kernel.prepare(cell, xp).contiguous()
    parts = _as_tuple(state)
    P = kernel.params(cell)
    capture = _capture(lengths, xp.shape[0])
    inputs = (xp, *parts, *(p for p in P if p is not None))
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        out, *final = _ScanFunction.apply(kernel, capture, len(parts), xp, *parts, *P)
    else:
        out, final, _ = _forward(kernel, xp, parts, P, capture, save=False)
    return out, final[0] if isinstance(state, Tensor) else tuple(final)
