r"""numba step kernels of the layer-normalised LSTM (Ba et al. 2016) for
:class:`~unrolled.layers.scan.layernorm_compiled.LayerNormLSTMCompiled`: one compiled call per step forward
(:func:`forward_step`) and one per step backward (:func:`backward_step`), each over the B rows of that step.

Forward, per row, from :math:`\mathrm{hw} = W_{hh} h_{t-1}` (computed by torch, written into ``xh[k]``):

.. math::
    \hat x = \frac{\mathrm{hw} - \mu_2}{\sigma_2}, \quad A = \alpha_2 \odot \hat x + \mathrm{xp}_t, \quad
    (i, f, g, o) = (\sigma, \sigma, \tanh, \sigma)(A), \quad c_t = f c_{t-1} + i g, \quad
    \hat c = \frac{c_t - \mu_3}{\sigma_3}, \quad \ell = \tanh(\alpha_3 \odot \hat c + \beta_3), \quad
    h_t = o\, \ell,

overwriting ``xh[k]`` with :math:`\hat x` and saving the gates, :math:`c_t`, :math:`\ell` and
:math:`(1/\sigma_2, \mu_3, 1/\sigma_3)` (the LayerNorm statistics, biased variance plus eps as
``torch.nn.LayerNorm``).

Backward, per row, from :math:`\bar h_t` and :math:`\bar c_t` (the gradient from step t + 1), with the
LayerNorm backward :math:`\bar x = \tfrac{1}{\sigma}(\bar{\hat x} - \mathrm{mean}(\bar{\hat x}) - \hat x\,
\mathrm{mean}(\bar{\hat x} \hat x))`:

.. math::
    \delta o = \bar h \ell\, o(1-o), \quad \bar\ell = \bar h o (1 - \ell^2), \quad
    \bar c = \bar c_t + \mathrm{LNback}(\alpha_3 \bar\ell), \quad
    \delta i = \bar c g\, i(1-i), \quad \delta f = \bar c c_{t-1} f(1-f), \quad \delta g = \bar c i (1-g^2),

:math:`\bar c_{t-1} = \bar c f`; :math:`\delta A` is the gradient at xp_t, and
:math:`\delta \mathrm{hw} = \mathrm{LNback}(\alpha_2 \delta A)` is written for torch's products
(:math:`\bar h_{t-1} \mathrel{+}= \delta \mathrm{hw}\, W_{hh}` and :math:`\partial L/\partial W_{hh}`).
The step's LayerNorm parameter gradients :math:`\sum_b \delta A \hat x`, :math:`\sum_b \bar\ell \hat c`,
:math:`\sum_b \bar\ell` go into row t of ``dpar``.

Rows past a sequence's end hold zeros in every saved buffer (the scan Function zeroes them), so a padded
step's backward reads finite values and, with zero incoming gradients, writes zeros.

This module imports numba: import it lazily.
"""

from __future__ import annotations

import numpy as np
from numba import prange
from numba.extending import overload

from unrolled._numba import cached_njit
from unrolled.layers.scan.numba_math import FASTMATH, float_type, sigmoid, tanh

_JIT = {"fastmath": set(FASTMATH), "error_model": "numpy"}


def _forward_row(xh, xp, p, gates, c, c_prev, tl, stats, h, t, k, kc, eps2, eps3, b):
    raise NotImplementedError("numba only")


def _backward_row(dh, dcin, dcout, t, k, xh, gates, c, c_prev, tl, stats, p, dA, dhw, dp, tb, b):
    raise NotImplementedError("numba only")


@overload(_forward_row, jit_options=_JIT)
def _forward_row_impl(xh, xp, p, gates, c, c_prev, tl, stats, h, t, k, kc, eps2, eps3, b):
    F = float_type(xh.dtype)
    if F is None:
        return None
    zero, one = F(0.0), F(1.0)

    def impl(xh, xp, p, gates, c, c_prev, tl, stats, h, t, k, kc, eps2, eps3, b):
        G = xh.shape[2]
        H = G // 4
        e2, e3 = F(eps2), F(eps3)
        inv_g, inv_h = one / F(G), one / F(H)
        a2, a3, b3 = p[:G], p[G : G + H], p[G + H :]
        x, xpb, gb = xh[k, b], xp[t, b], gates[k, b]
        s = zero
        for j in range(G):
            s += x[j]
        m = s * inv_g
        v = zero
        for j in range(G):
            d = x[j] - m
            v += d * d
        r = F(one / np.sqrt(v * inv_g + e2))
        for j in range(G):
            x[j] = (x[j] - m) * r  # x-hat, kept for the backward
        for j in range(2 * H):  # i, f
            gb[j] = sigmoid(x[j] * a2[j] + xpb[j])
        for j in range(2 * H, 3 * H):  # g
            gb[j] = tanh(x[j] * a2[j] + xpb[j])
        for j in range(3 * H, G):  # o
            gb[j] = sigmoid(x[j] * a2[j] + xpb[j])
        cn, cp = c[kc, b], c_prev[b]
        for j in range(H):
            cn[j] = gb[H + j] * cp[j] + gb[j] * gb[2 * H + j]
        s = zero
        for j in range(H):
            s += cn[j]
        m3 = s * inv_h
        v = zero
        for j in range(H):
            d = cn[j] - m3
            v += d * d
        r3 = F(one / np.sqrt(v * inv_h + e3))
        tb, hb = tl[k, b], h[b]
        for j in range(H):
            th = tanh((cn[j] - m3) * r3 * a3[j] + b3[j])
            tb[j] = th
            hb[j] = gb[3 * H + j] * th
        stats[k, b, 0] = r
        stats[k, b, 1] = m3
        stats[k, b, 2] = r3

    return impl


@overload(_backward_row, jit_options=_JIT)
def _backward_row_impl(dh, dcin, dcout, t, k, xh, gates, c, c_prev, tl, stats, p, dA, dhw, dp, tb, b):
    F = float_type(xh.dtype)
    if F is None:
        return None
    zero, one = F(0.0), F(1.0)

    def impl(dh, dcin, dcout, t, k, xh, gates, c, c_prev, tl, stats, p, dA, dhw, dp, tb, b):
        G = xh.shape[2]
        H = G // 4
        inv_g, inv_h = one / F(G), one / F(H)
        a2, a3 = p[:G], p[G : G + H]
        da2, da3, db3 = dp[:G], dp[G : G + H], dp[G + H :]
        gb, cb, cp, lb = gates[t, b], c[t, b], c_prev[b], tl[t, b]
        hb, dci, dco, dAb = dh[b], dcin[b], dcout[b], dA[t, b]
        r2, m3, r3 = stats[t, b, 0], stats[t, b, 1], stats[t, b, 2]
        for j in range(H):  # o gate, and the backward of l = tanh(LN(c)) into LN's input
            o, th, dd = gb[3 * H + j], lb[j], hb[j]
            dAb[3 * H + j] = dd * th * o * (one - o)
            dl = dd * o * (one - th * th)
            da3[j] += dl * (cb[j] - m3) * r3
            db3[j] += dl
            tb[j] = dl * a3[j]
        s1, s2 = zero, zero
        for j in range(H):
            s1 += tb[j]
            s2 += tb[j] * (cb[j] - m3) * r3
        s1 *= inv_h
        s2 *= inv_h
        for j in range(H):  # c: total gradient, then the i, f, g gates and c_{t-1}
            ch = (cb[j] - m3) * r3
            dc = dci[j] + r3 * (tb[j] - s1 - ch * s2)
            i, f, g = gb[j], gb[H + j], gb[2 * H + j]
            dAb[j] = dc * g * i * (one - i)
            dAb[H + j] = dc * cp[j] * f * (one - f)
            dAb[2 * H + j] = dc * i * (one - g * g)
            dco[j] = dc * f
        x = xh[t, b]
        for j in range(G):
            da2[j] += dAb[j] * x[j]
        s1, s2 = zero, zero
        for j in range(G):  # LN(W_hh h) backward
            u = dAb[j] * a2[j]
            s1 += u
            s2 += u * x[j]
        s1 *= inv_g
        s2 *= inv_g
        ob = dhw[k, b]
        for j in range(G):
            ob[j] = r2 * (dAb[j] * a2[j] - s1 - x[j] * s2)

    return impl


_OPTIONS = {"nogil": True, "fastmath": set(FASTMATH), "error_model": "numpy"}


@cached_njit(**_OPTIONS)
def forward_step(xh, xp, p, gates, c, c0, tl, stats, h, t, k, kc, kp, eps2, eps3):
    """One forward step over B rows. Buffers (n, B, ·) with n = T (saving) or 1-2 (scratch): ``xh`` (holds
    W_hh h_{t-1} at slot k; overwritten with x-hat), ``gates`` (i, f, g, o), ``c`` (c_t written at slot kc,
    c_{t-1} read at slot kp, or from ``c0`` (B, H) when kp < 0), ``tl`` (tanh(LN(c_t))), ``stats``
    (n, B, 3); ``xp`` (T, B, 4H) read at step t; ``p`` the gains (4H) and the cell LayerNorm's gain and shift
    (H, H) concatenated; ``h`` (B, H) receives h_t."""
    c_prev = c0 if kp < 0 else c[kp]
    for b in range(xh.shape[1]):
        _forward_row(xh, xp, p, gates, c, c_prev, tl, stats, h, t, k, kc, eps2, eps3, b)


@cached_njit(parallel=True, **_OPTIONS)
def forward_step_parallel(xh, xp, p, gates, c, c0, tl, stats, h, t, k, kc, kp, eps2, eps3):
    """:func:`forward_step` with the rows split over numba's threads."""
    c_prev = c0 if kp < 0 else c[kp]
    for b in prange(xh.shape[1]):
        _forward_row(xh, xp, p, gates, c, c_prev, tl, stats, h, t, k, kc, eps2, eps3, b)


@cached_njit(**_OPTIONS)
def backward_step(dh, dcin, dcout, t, k, xh, gates, c, c0, tl, stats, p, dA, dhw, dpar, part, tmp):
    """One backward step over B rows: from ``dh``, ``dcin`` (B, H) and the saved (T, B, ·) buffers, writes
    dL/dxp_t into ``dA[t]``, dL/d(W_hh h_{t-1}) into ``dhw[k]``, dL/dc_{t-1} into ``dcout`` (B, H), and the
    step's LayerNorm parameter gradients (summed over the rows) into ``dpar[t]`` (6H); ``part`` (n, 6H) and
    ``tmp`` (B, H) are scratch."""
    c_prev = c0 if t == 0 else c[t - 1]
    dp = dpar[t]
    dp[:] = 0
    for b in range(xh.shape[1]):
        _backward_row(dh, dcin, dcout, t, k, xh, gates, c, c_prev, tl, stats, p, dA, dhw, dp, tmp[b], b)


@cached_njit(parallel=True, **_OPTIONS)
def backward_step_parallel(dh, dcin, dcout, t, k, xh, gates, c, c0, tl, stats, p, dA, dhw, dpar, part, tmp):
    """:func:`backward_step` with the rows split into ``len(part)`` contiguous blocks over numba's threads; each
    block sums its rows' parameter gradients into its row of ``part``, then the blocks are added in order (the
    result does not depend on which thread ran which block)."""
    c_prev = c0 if t == 0 else c[t - 1]
    B, n = xh.shape[1], part.shape[0]
    part[:, :] = 0
    for blk in prange(n):
        for b in range(blk * B // n, (blk + 1) * B // n):
            _backward_row(dh, dcin, dcout, t, k, xh, gates, c, c_prev, tl, stats, p, dA, dhw, part[blk], tmp[b], b)
    dp = dpar[t]
    dp[:] = part[0]
    for blk in range(1, n):
        dp += part[blk]
