r"""The layer-normalised LSTM's scan kernel with its per-step pointwise and LayerNorm work compiled by numba:
:class:`LayerNormLSTMCompiled`, chosen by :func:`compiled_ln_lstm` (CPU, float32/float64, numba importable).

:class:`~unrolled.layers.scan.layernorm.LayerNormLSTMScan` issues about ten ATen operations and two LayerNorm
kernels per step forward and again backward, each a few microseconds of dispatch on B·H-sized tensors below
ATen's parallel grain; this kernel keeps the large products in torch (:math:`W_{hh} h_{t-1}` per step,
:math:`\delta\mathrm{hw}\, W_{hh}` per step, :math:`\partial L/\partial W_{hh}` per chunk of steps, the input
projection as before) and does everything else of a step in ONE compiled call forward
(:func:`~unrolled.layers.scan.layernorm_numba.forward_step`) and ONE backward
(:func:`~unrolled.layers.scan.layernorm_numba.backward_step`), on numpy views of the torch buffers (zero copy,
made once per call). Same cell, same parameters, same results as ``LayerNormLSTMScan`` and ``cell.step`` to
rounding; the double backward (``create_graph=True``) recomputes through ``cell.step`` as for every kernel.
"""

from __future__ import annotations

import torch

from unrolled._numba import numba_available
from unrolled.cells.layernorm import LayerNormLSTMCell
from unrolled.layers.scan.kernel import ScanKernel, Workspace, mm_into, previous_chunk, steps, transposed

#: parameter dtypes the compiled kernel runs (others take LayerNormLSTMScan)
COMPILED_DTYPES = (torch.float32, torch.float64)
#: a step's rows are split over threads from this many elements B·4H (ATen's parallel grain, 32768): below it
#: a parallel region costs more than it saves (numba's OpenMP pool is not torch's; the two hand the cores over)
PARALLEL_MIN_ELEMENTS = 32768


def compiled_ln_lstm(cell: LayerNormLSTMCell) -> LayerNormLSTMCompiled | None:
    """The compiled kernel for ``cell`` when its parameters are CPU float32/float64 and numba imports, else None."""
    W = cell.weight_hh
    if W.device.type != "cpu" or W.dtype not in COMPILED_DTYPES or not numba_available():
        return None
    return LayerNormLSTMCompiled(cell)


def compiled_threads() -> int:
    """Threads of the compiled calls: torch's intra-op threads (``torch.set_num_threads``), at most numba's."""
    import numba

    return max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))


def _np(t: torch.Tensor):
    """A numpy view sharing ``t``'s memory."""
    return t.detach().numpy()


class LayerNormLSTMCompiled(ScanKernel):
    r"""Layer-normalised LSTM (Ba et al. 2016) with one numba call per step forward and backward.

    Saved per step (T, B, ·): :math:`\hat x` of :math:`W_{hh} h_{t-1}` (4H, written by the product and
    normalised in place), the activated gates (4H), :math:`c_t` (H), :math:`\tanh(\mathrm{LN}(c_t))` (H) and the
    statistics :math:`(1/\sigma_2, \mu_3, 1/\sigma_3)` (3): 10H + 3 floats per token, as
    :class:`~unrolled.layers.scan.layernorm.LayerNormLSTMScan`. Backward per step: the compiled call writes
    dL/dxp_t, dL/d(W_hh h_{t-1}) (into a chunk buffer, for one dW_hh product per chunk of steps) and
    dL/dc_{t-1}, and the step's LayerNorm parameter gradients (a (T, 6H) buffer summed over T after the
    loop); torch adds :math:`\delta\mathrm{hw}\, W_{hh}` to dL/dh_{t-1}.

    Threads: a step's B rows are split over ``torch.get_num_threads()`` threads (numba's ``prange``) when
    B·4H >= :data:`PARALLEL_MIN_ELEMENTS`, else one thread runs them. For a given path the results are
    deterministic (a row's arithmetic does not depend on the thread or on where the buffers lie: every sum is a
    loop that stores nothing, so no runtime alias check picks a differently ordered fallback loop); the
    one-thread and the split backward may differ in the last bits, as torch's results do with its thread count.
    """

    n_state = 2
    saved_keys = ("xh", "gates", "c", "tl", "stats")
    param_names = ("weight_hh", "ln_hh.weight", "ln_c.weight", "ln_c.bias")

    def __init__(self, cell: LayerNormLSTMCell):
        super().__init__(cell)
        import numba

        from unrolled.layers.scan import layernorm_numba  # numba's kernels: imported when the kernel is built

        self._numba = layernorm_numba
        self._set_threads = numba.set_num_threads
        self.eps_hh, self.eps_c = float(cell.ln_hh.eps), float(cell.ln_c.eps)

    def _steps(self, B: int) -> tuple:
        """The (forward, backward) step functions for B rows: parallel ones from the grain up, with numba's
        threads set to :func:`compiled_threads` for the calling thread."""
        threads = compiled_threads()
        nb = self._numba
        if threads > 1 and B * 4 * self.H >= PARALLEL_MIN_ELEMENTS:
            self._set_threads(threads)
            return nb.forward_step_parallel, nb.backward_step_parallel
        return nb.forward_step, nb.backward_step

    @staticmethod
    def _gains(P: tuple) -> torch.Tensor:
        """(6H,): the recurrent LayerNorm's gain, then the cell LayerNorm's gain and shift."""
        return torch.cat([P[1].detach(), P[2].detach(), P[3].detach()])

    def workspace(self, xp, state0, P, save):
        T, B, _ = xp.shape
        H = self.H
        n = T if save else 1  # scratch: one reused step (two for c)
        ws: Workspace = {"P": P, "Wt": transposed(P[0], T, B), "save": save}
        ws["xh"], ws["gates"] = xp.new_empty(n, B, 4 * H), xp.new_empty(n, B, 4 * H)
        ws["c"], ws["tl"] = xp.new_empty(T if save else 2, B, H), xp.new_empty(n, B, H)
        ws["stats"] = xp.new_empty(n, B, 3)
        c0 = state0[1].detach().contiguous()
        arrays = (ws["xh"], xp, self._gains(P), ws["gates"], ws["c"], c0, ws["tl"], ws["stats"])
        ws["np"], ws["step"] = tuple(_np(a) for a in arrays), self._steps(B)[0]
        if not save:  # views made once
            ws["xh_t"], ws["c_t"] = steps(ws["xh"]), steps(ws["c"])
        return ws

    def begin_chunk(self, ws, t0, t1):
        if ws["save"]:  # this chunk's per-step views of the product buffer and of c
            ws["xh_t"], ws["c_t"], ws["k0"] = steps(ws["xh"][t0:t1]), steps(ws["c"][t0:t1]), t0

    def fstep(self, t, xp_t, state, ws, out_t):
        if ws["save"]:
            k = t - ws["k0"]
            slot, kc, kp, view = t, t, t - 1, k
        else:
            k, slot, kc = 0, 0, t & 1
            kp, view = ((t - 1) & 1 if t else -1), kc
        torch.mm(state[0], ws["Wt"], out=ws["xh_t"][k])  # W_hh h_{t-1}: (B, 4H)
        xh, xp, p, gates, c, c0, tl, stats = ws["np"]
        ws["step"](xh, xp, p, gates, c, c0, tl, stats, out_t.numpy(), t, slot, kc, kp, self.eps_hh, self.eps_c)
        return out_t, ws["c_t"][view]

    def begin_backward(self, ws, state0, out):
        T, B, _ = ws["gates"].shape
        H, n = self.H, min(self.chunk, T)
        ws["dA"] = out.new_empty(T, B, 4 * H)
        dhw = out.new_empty(n, B, 4 * H)  # dL/d(W_hh h) of the chunk's steps, reused by every chunk
        dc = out.new_empty(2, B, H)  # dL/dc_{t-1}, alternating
        ws["dhw_buf"], ws["dhw_t"], ws["dc_t"] = dhw, steps(dhw), steps(dc)
        ws["dpar"] = out.new_empty(T, 6 * H)  # per step: the LayerNorm gains' and shift's gradients
        part = out.new_empty(compiled_threads(), 6 * H)  # per block of rows (split path), scratch
        c0 = state0[1].detach().contiguous()
        arrays = (ws["xh"], ws["gates"], ws["c"], c0, ws["tl"], ws["stats"], self._gains(ws["P"]), ws["dA"], dhw)
        ws["np"] = (*(_np(a) for a in arrays), _np(ws["dpar"]), _np(part), _np(out.new_empty(B, H)))
        ws["dc_np"], ws["step"] = tuple(_np(d) for d in ws["dc_t"]), self._steps(B)[1]
        ws["dW"], ws["h0"], ws["out"] = None, state0[0], out

    def factors(self, ws, state0, out, t0, t1):
        ws["t1"] = t1  # nothing to precompute: the compiled step reads the saved activations

    def bstep(self, t, dh, drest, dy_prev, ws):
        k, slot = t - ws["t0"], t & 1
        dc_in = drest[0].contiguous().numpy()
        ws["step"](dh.contiguous().numpy(), dc_in, ws["dc_np"][slot], t, k, *ws["np"])
        if k == 0:  # the chunk t .. t1 - 1 is done
            self._end_backward_chunk(ws, t, ws["t1"])
        return mm_into(dy_prev, ws["dhw_t"][k], ws["P"][0]), (ws["dc_t"][slot],)

    def _end_backward_chunk(self, ws, t0, t1):
        r"""Add the chunk's share of :math:`\partial L/\partial W_{hh} = \sum_t \delta\mathrm{hw}_t^\top h_{t-1}`:
        one product over the chunk's B (t1 - t0) rows."""
        if ws["needs"][0]:
            G = ws["dhw_buf"][: t1 - t0].view(-1, 4 * self.H)  # (n B, 4H)
            hp = previous_chunk(ws["h0"], ws["out"], t0, t1).reshape(-1, self.H)  # (n B, H)
            ws["dW"] = torch.mm(G.t(), hp) if ws["dW"] is None else ws["dW"].addmm_(G.t(), hp)

    def finish(self, ws, state0, out, needs):
        H, dpar = self.H, ws["dpar"]
        parts = (dpar[:, : 4 * H], dpar[:, 4 * H : 5 * H], dpar[:, 5 * H :])  # (T, ·) each
        return ws["dA"], (ws["dW"], *(p.sum(0) if need else None for p, need in zip(parts, needs[1:])))
