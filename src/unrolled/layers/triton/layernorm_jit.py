r"""Triton kernels of the layer-normalised LSTM (Ba et al. 2016): the whole time loop in one launch, forward and
backward.

.. math::
    (i, f, g, o) = \mathrm{xp}_t + \mathrm{LN}(h_{t-1} W_{hh}^\top; \alpha_2), \quad
    c_t = \sigma(f) c_{t-1} + \sigma(i) \tanh(g), \quad h_t = \sigma(o) \tanh(\mathrm{LN}(c_t; \alpha_3, \beta_3))

(``xp`` = ``ln_ih(W_ih x)``, computed for all T before). The recurrent LayerNorm normalises the whole 4H jointly,
so each program owns ``BLOCK_B`` sequences and all 4H pre-activations, and keeps the four H x H tiles of
``weight_hh`` on chip for all T steps (FlashRNN, Pöppel et al. 2024). Saved for the backward: the activated
gates, :math:`c_t`, the normalised :math:`\hat p` and :math:`\hat c` and their reciprocal deviations.
"""

from __future__ import annotations

import triton
import triton.language as tl

from unrolled.layers.triton.jit_common import load_square, sigmoid, tanh


@triton.jit
def ln_lstm_forward(
    xp_ptr,  # (T, B, 4H)
    h0_ptr,  # (B, H)
    c0_ptr,  # (B, H)
    w_ptr,  # (4H, H) weight_hh
    a2_ptr,  # (4H,) ln_hh.weight
    a3_ptr,  # (H,) ln_c.weight
    b3_ptr,  # (H,) ln_c.bias
    len_ptr,  # (B,)
    hs_ptr,  # (T, B, H) out: h_t
    cs_ptr,  # (T, B, H) out: c_t
    g_ptr,  # (T, B, 4H) out: sigma(i), sigma(f), tanh(g), sigma(o)
    x2_ptr,  # (T, B, 4H) out: the normalised recurrent product
    r2_ptr,  # (T, B) out: its reciprocal deviation
    x3_ptr,  # (T, B, H) out: the normalised c_t
    r3_ptr,  # (T, B) out: its reciprocal deviation
    eps2,
    eps3,
    T,
    B,
    H,
    HAS_LEN: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
    PRECISION: tl.constexpr,
):
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = tl.arange(0, BLOCK_H)
    mb = rb < B
    mh = (rh < H)[None, :]
    m2 = mb[:, None] & mh
    offs = rb[:, None] * H + rh[None, :]
    goffs = rb[:, None] * 4 * H + rh[None, :]
    wi = load_square(w_ptr, 0, H, BLOCK_H, True)  # W_hi^T .. W_ho^T: on chip for all steps
    wf = load_square(w_ptr, H, H, BLOCK_H, True)
    wg = load_square(w_ptr, 2 * H, H, BLOCK_H, True)
    wo = load_square(w_ptr, 3 * H, H, BLOCK_H, True)
    a2i = tl.load(a2_ptr + rh, mask=rh < H, other=0.0)[None, :]
    a2f = tl.load(a2_ptr + H + rh, mask=rh < H, other=0.0)[None, :]
    a2g = tl.load(a2_ptr + 2 * H + rh, mask=rh < H, other=0.0)[None, :]
    a2o = tl.load(a2_ptr + 3 * H + rh, mask=rh < H, other=0.0)[None, :]
    a3 = tl.load(a3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    b3 = tl.load(b3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    h = tl.load(h0_ptr + offs, mask=m2, other=0.0)
    c = tl.load(c0_ptr + offs, mask=m2, other=0.0)
    if HAS_LEN:
        n_len = tl.load(len_ptr + rb, mask=mb, other=0)
    for t in range(T):
        pi = tl.dot(h, wi, input_precision=PRECISION)  # (BLOCK_B, BLOCK_H) each, zero in padded columns
        pf = tl.dot(h, wf, input_precision=PRECISION)
        pg = tl.dot(h, wg, input_precision=PRECISION)
        po = tl.dot(h, wo, input_precision=PRECISION)
        mu = (tl.sum(pi, 1) + tl.sum(pf, 1) + tl.sum(pg, 1) + tl.sum(po, 1)) / (4 * H)
        di = tl.where(mh, pi - mu[:, None], 0.0)
        df = tl.where(mh, pf - mu[:, None], 0.0)
        dg = tl.where(mh, pg - mu[:, None], 0.0)
        do = tl.where(mh, po - mu[:, None], 0.0)
        var = (tl.sum(di * di, 1) + tl.sum(df * df, 1) + tl.sum(dg * dg, 1) + tl.sum(do * do, 1)) / (4 * H)
        r2 = 1.0 / tl.sqrt(var + eps2)  # (BLOCK_B,)
        xi, xf, xg, xo = di * r2[:, None], df * r2[:, None], dg * r2[:, None], do * r2[:, None]
        base = xp_ptr + t * B * 4 * H + goffs
        gi = sigmoid(tl.load(base, mask=m2, other=0.0) + xi * a2i)
        gf = sigmoid(tl.load(base + H, mask=m2, other=0.0) + xf * a2f)
        gg = tanh(tl.load(base + 2 * H, mask=m2, other=0.0) + xg * a2g)
        go = sigmoid(tl.load(base + 3 * H, mask=m2, other=0.0) + xo * a2o)
        c_new = gf * c + gi * gg
        mu3 = tl.sum(tl.where(mh, c_new, 0.0), 1) / H
        d3 = tl.where(mh, c_new - mu3[:, None], 0.0)
        r3 = 1.0 / tl.sqrt(tl.sum(d3 * d3, 1) / H + eps3)
        x3 = d3 * r3[:, None]
        h_new = go * tanh(x3 * a3 + b3)
        if HAS_LEN:
            keep = (t < n_len)[:, None]
            h_new = tl.where(keep, h_new, h)
            c_new = tl.where(keep, c_new, c)
        h = tl.where(m2, h_new, 0.0)
        c = tl.where(m2, c_new, 0.0)
        tl.store(hs_ptr + t * B * H + offs, h, mask=m2)
        tl.store(cs_ptr + t * B * H + offs, c, mask=m2)
        tl.store(x3_ptr + t * B * H + offs, x3, mask=m2)
        tl.store(r2_ptr + t * B + rb, r2, mask=mb)
        tl.store(r3_ptr + t * B + rb, r3, mask=mb)
        gb = g_ptr + t * B * 4 * H + goffs
        tl.store(gb, gi, mask=m2)
        tl.store(gb + H, gf, mask=m2)
        tl.store(gb + 2 * H, gg, mask=m2)
        tl.store(gb + 3 * H, go, mask=m2)
        xb = x2_ptr + t * B * 4 * H + goffs
        tl.store(xb, xi, mask=m2)
        tl.store(xb + H, xf, mask=m2)
        tl.store(xb + 2 * H, xg, mask=m2)
        tl.store(xb + 3 * H, xo, mask=m2)


@triton.jit
def ln_lstm_backward(
    dout_ptr,  # (T, B, H)
    dh_fin_ptr,  # (B, H)
    dc_fin_ptr,  # (B, H)
    c0_ptr,  # (B, H)
    cs_ptr,  # (T, B, H)
    g_ptr,  # (T, B, 4H)
    x2_ptr,  # (T, B, 4H)
    r2_ptr,  # (T, B)
    x3_ptr,  # (T, B, H)
    r3_ptr,  # (T, B)
    w_ptr,  # (4H, H)
    a2_ptr,  # (4H,)
    a3_ptr,  # (H,)
    b3_ptr,  # (H,)
    len_ptr,  # (B,)
    dxp_ptr,  # (T, B, 4H) out: dL/dxp
    dp_ptr,  # (T, B, 4H) out: dL/d(h_{t-1} W_hh^T)
    dh0_ptr,  # (B, H) out
    dc0_ptr,  # (B, H) out
    da2_ptr,  # (programs, 4H) out: this program's share of dL/d ln_hh.weight
    da3_ptr,  # (programs, H) out: of dL/d ln_c.weight
    db3_ptr,  # (programs, H) out: of dL/d ln_c.bias
    T,
    B,
    H,
    HAS_DOUT: tl.constexpr,
    HAS_DH: tl.constexpr,
    HAS_DC: tl.constexpr,
    HAS_LEN: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    rb = pid * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = tl.arange(0, BLOCK_H)
    mb = rb < B
    mh = (rh < H)[None, :]
    m2 = mb[:, None] & mh
    offs = rb[:, None] * H + rh[None, :]
    goffs = rb[:, None] * 4 * H + rh[None, :]
    wi = load_square(w_ptr, 0, H, BLOCK_H, False)  # W_hi .. W_ho: on chip for all steps
    wf = load_square(w_ptr, H, H, BLOCK_H, False)
    wg = load_square(w_ptr, 2 * H, H, BLOCK_H, False)
    wo = load_square(w_ptr, 3 * H, H, BLOCK_H, False)
    a2i = tl.load(a2_ptr + rh, mask=rh < H, other=0.0)[None, :]
    a2f = tl.load(a2_ptr + H + rh, mask=rh < H, other=0.0)[None, :]
    a2g = tl.load(a2_ptr + 2 * H + rh, mask=rh < H, other=0.0)[None, :]
    a2o = tl.load(a2_ptr + 3 * H + rh, mask=rh < H, other=0.0)[None, :]
    a3 = tl.load(a3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    b3 = tl.load(b3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    zero = tl.zeros((BLOCK_B, BLOCK_H), dtype=tl.float32)
    dh = zero
    dc = zero
    if HAS_DH:
        dh = tl.load(dh_fin_ptr + offs, mask=m2, other=0.0)
    if HAS_DC:
        dc = tl.load(dc_fin_ptr + offs, mask=m2, other=0.0)
    sa2i = tl.zeros((BLOCK_H,), dtype=tl.float32)
    sa2f = tl.zeros((BLOCK_H,), dtype=tl.float32)
    sa2g = tl.zeros((BLOCK_H,), dtype=tl.float32)
    sa2o = tl.zeros((BLOCK_H,), dtype=tl.float32)
    sa3 = tl.zeros((BLOCK_H,), dtype=tl.float32)
    sb3 = tl.zeros((BLOCK_H,), dtype=tl.float32)
    if HAS_LEN:
        n_len = tl.load(len_ptr + rb, mask=mb, other=0)
    for k in range(T):
        t = T - 1 - k
        valid = m2
        if HAS_LEN:
            valid = m2 & (t < n_len)[:, None]
        if HAS_DOUT:
            dh += tl.where(valid, tl.load(dout_ptr + t * B * H + offs, mask=m2, other=0.0), 0.0)
        if t > 0:
            c_prev = tl.load(cs_ptr + (t - 1) * B * H + offs, mask=m2, other=0.0)
        else:
            c_prev = tl.load(c0_ptr + offs, mask=m2, other=0.0)
        gb = g_ptr + t * B * 4 * H + goffs
        gi = tl.load(gb, mask=m2, other=0.0)
        gf = tl.load(gb + H, mask=m2, other=0.0)
        gg = tl.load(gb + 2 * H, mask=m2, other=0.0)
        go = tl.load(gb + 3 * H, mask=m2, other=0.0)
        x3 = tl.load(x3_ptr + t * B * H + offs, mask=m2, other=0.0)
        r3 = tl.load(r3_ptr + t * B + rb, mask=mb, other=0.0)[:, None]
        tl3 = tanh(x3 * a3 + b3)
        dao = tl.where(valid, dh * tl3 * go * (1.0 - go), 0.0)
        dy3 = tl.where(valid, dh * go * (1.0 - tl3 * tl3), 0.0)  # dL/d LN(c_t)
        sa3 += tl.sum(dy3 * x3, 0)
        sb3 += tl.sum(dy3, 0)
        dx3 = dy3 * a3
        m1 = tl.sum(dx3, 1)[:, None] / H
        mx = tl.sum(dx3 * x3, 1)[:, None] / H
        dct = dc + tl.where(valid, r3 * (dx3 - m1 - x3 * mx), 0.0)  # total dL/dc_t
        dai = tl.where(valid, dct * gg * gi * (1.0 - gi), 0.0)
        daf = tl.where(valid, dct * c_prev * gf * (1.0 - gf), 0.0)
        dag = tl.where(valid, dct * gi * (1.0 - gg * gg), 0.0)
        db = dxp_ptr + t * B * 4 * H + goffs
        tl.store(db, dai, mask=m2)
        tl.store(db + H, daf, mask=m2)
        tl.store(db + 2 * H, dag, mask=m2)
        tl.store(db + 3 * H, dao, mask=m2)
        xb = x2_ptr + t * B * 4 * H + goffs
        xi = tl.load(xb, mask=m2, other=0.0)
        xf = tl.load(xb + H, mask=m2, other=0.0)
        xg = tl.load(xb + 2 * H, mask=m2, other=0.0)
        xo = tl.load(xb + 3 * H, mask=m2, other=0.0)
        r2 = tl.load(r2_ptr + t * B + rb, mask=mb, other=0.0)[:, None]
        sa2i += tl.sum(dai * xi, 0)
        sa2f += tl.sum(daf * xf, 0)
        sa2g += tl.sum(dag * xg, 0)
        sa2o += tl.sum(dao * xo, 0)
        ni, nf, ng, no = dai * a2i, daf * a2f, dag * a2g, dao * a2o  # dL/d(normalised product)
        m1 = (tl.sum(ni, 1) + tl.sum(nf, 1) + tl.sum(ng, 1) + tl.sum(no, 1))[:, None] / (4 * H)
        mx = (tl.sum(ni * xi, 1) + tl.sum(nf * xf, 1) + tl.sum(ng * xg, 1) + tl.sum(no * xo, 1))[:, None] / (4 * H)
        dpi = tl.where(valid, r2 * (ni - m1 - xi * mx), 0.0)
        dpf = tl.where(valid, r2 * (nf - m1 - xf * mx), 0.0)
        dpg = tl.where(valid, r2 * (ng - m1 - xg * mx), 0.0)
        dpo = tl.where(valid, r2 * (no - m1 - xo * mx), 0.0)
        pb = dp_ptr + t * B * 4 * H + goffs
        tl.store(pb, dpi, mask=m2)
        tl.store(pb + H, dpf, mask=m2)
        tl.store(pb + 2 * H, dpg, mask=m2)
        tl.store(pb + 3 * H, dpo, mask=m2)
        back = tl.dot(dpi, wi, input_precision=PRECISION) + tl.dot(dpf, wf, input_precision=PRECISION)
        back += tl.dot(dpg, wg, input_precision=PRECISION) + tl.dot(dpo, wo, input_precision=PRECISION)
        dh = tl.where(valid, back, dh)
        dc = tl.where(valid, dct * gf, dc)
    tl.store(dh0_ptr + offs, dh, mask=m2)
    tl.store(dc0_ptr + offs, dc, mask=m2)
    mh1 = rh < H
    tl.store(da2_ptr + pid * 4 * H + rh, sa2i, mask=mh1)
    tl.store(da2_ptr + pid * 4 * H + H + rh, sa2f, mask=mh1)
    tl.store(da2_ptr + pid * 4 * H + 2 * H + rh, sa2g, mask=mh1)
    tl.store(da2_ptr + pid * 4 * H + 3 * H + rh, sa2o, mask=mh1)
    tl.store(da3_ptr + pid * H + rh, sa3, mask=mh1)
    tl.store(db3_ptr + pid * H + rh, sb3, mask=mh1)
