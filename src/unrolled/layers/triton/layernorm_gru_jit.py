r"""Triton kernels of the layer-normalised GRU (Ba et al. 2016), both reset placements: the whole time loop in one
launch, forward and backward.

.. math::
    \begin{array}{ll}
    r, z = \sigma\big(\mathrm{xp}_{r,z} + \mathrm{LN}(h_{t-1} W_{h\{r,z\}}^\top; \alpha_2)\big) \\
    n = \tanh\big(\mathrm{xp}_n + r \odot \mathrm{LN}(h_{t-1} W_{hn}^\top; \alpha_3, \beta_3)\big)
        & \text{reset="after" (``AFTER``)} \\
    n = \tanh\big(\mathrm{xp}_n + \mathrm{LN}((r \odot h_{t-1}) W_{hn}^\top; \alpha_3, \beta_3)\big)
        & \text{reset="before"} \\
    h_t = n + z \odot (h_{t-1} - n)
    \end{array}

(``xp`` = ``ln_ih(W_ih x)``, computed for all T before). The r, z LayerNorm normalises 2H jointly, so each
program owns ``BLOCK_B`` sequences and all 3H pre-activations, and keeps the three H x H tiles of ``weight_hh``
on chip for all T steps (FlashRNN, Pöppel et al. 2024). Saved for the backward: the activated :math:`r, z, n`,
the two normalised products :math:`\hat p_{rz}, \hat p_n` and their reciprocal deviations.
"""

from __future__ import annotations

import triton
import triton.language as tl

from unrolled.layers.triton.jit_common import load_square, sigmoid, tanh


@triton.jit
def ln_gru_forward(
    xp_ptr,  # (T, B, 3H)
    h0_ptr,  # (B, H)
    w_ptr,  # (3H, H) weight_hh
    a2_ptr,  # (2H,) ln_hrz.weight
    a3_ptr,  # (H,) ln_hn.weight
    b3_ptr,  # (H,) ln_hn.bias
    len_ptr,  # (B,)
    hs_ptr,  # (T, B, H) out: h_t
    g_ptr,  # (T, B, 3H) out: r, z, n
    x2_ptr,  # (T, B, 2H) out: the normalised r, z product
    r2_ptr,  # (T, B) out: its reciprocal deviation
    x3_ptr,  # (T, B, H) out: the normalised n product
    r3_ptr,  # (T, B) out: its reciprocal deviation
    eps2,
    eps3,
    T,
    B,
    H,
    AFTER: tl.constexpr,
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
    goffs = rb[:, None] * 3 * H + rh[None, :]
    zoffs = rb[:, None] * 2 * H + rh[None, :]
    wr = load_square(w_ptr, 0, H, BLOCK_H, True)  # W_hr^T, W_hz^T, W_hn^T: on chip for all steps
    wz = load_square(w_ptr, H, H, BLOCK_H, True)
    wn = load_square(w_ptr, 2 * H, H, BLOCK_H, True)
    a2r = tl.load(a2_ptr + rh, mask=rh < H, other=0.0)[None, :]
    a2z = tl.load(a2_ptr + H + rh, mask=rh < H, other=0.0)[None, :]
    a3 = tl.load(a3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    b3 = tl.load(b3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    h = tl.load(h0_ptr + offs, mask=m2, other=0.0)
    if HAS_LEN:
        n_len = tl.load(len_ptr + rb, mask=mb, other=0)
    for t in range(T):
        pr = tl.dot(h, wr, input_precision=PRECISION)  # (BLOCK_B, BLOCK_H) each, zero in padded columns
        pz = tl.dot(h, wz, input_precision=PRECISION)
        mu = (tl.sum(pr, 1) + tl.sum(pz, 1)) / (2 * H)
        dr = tl.where(mh, pr - mu[:, None], 0.0)
        dz = tl.where(mh, pz - mu[:, None], 0.0)
        r2 = 1.0 / tl.sqrt((tl.sum(dr * dr, 1) + tl.sum(dz * dz, 1)) / (2 * H) + eps2)  # (BLOCK_B,)
        xr, xz = dr * r2[:, None], dz * r2[:, None]
        base = xp_ptr + t * B * 3 * H + goffs
        r = sigmoid(tl.load(base, mask=m2, other=0.0) + xr * a2r)
        z = sigmoid(tl.load(base + H, mask=m2, other=0.0) + xz * a2z)
        xb = x2_ptr + t * B * 2 * H + zoffs  # stored now: shorter live ranges (fewer registers)
        tl.store(xb, xr, mask=m2)
        tl.store(xb + H, xz, mask=m2)
        tl.store(r2_ptr + t * B + rb, r2, mask=mb)
        if AFTER:
            pn = tl.dot(h, wn, input_precision=PRECISION)
        else:
            pn = tl.dot(r * h, wn, input_precision=PRECISION)  # padded columns: h = 0
        mu3 = tl.sum(pn, 1) / H
        d3 = tl.where(mh, pn - mu3[:, None], 0.0)
        r3 = 1.0 / tl.sqrt(tl.sum(d3 * d3, 1) / H + eps3)
        x3 = d3 * r3[:, None]
        if AFTER:
            n = tanh(tl.load(base + 2 * H, mask=m2, other=0.0) + r * (x3 * a3 + b3))
        else:
            n = tanh(tl.load(base + 2 * H, mask=m2, other=0.0) + x3 * a3 + b3)
        new = n + z * (h - n)  # (1 - z) n + z h
        if HAS_LEN:
            new = tl.where((t < n_len)[:, None], new, h)
        h = tl.where(m2, new, 0.0)
        tl.store(hs_ptr + t * B * H + offs, h, mask=m2)
        gb = g_ptr + t * B * 3 * H + goffs
        tl.store(gb, r, mask=m2)
        tl.store(gb + H, z, mask=m2)
        tl.store(gb + 2 * H, n, mask=m2)
        tl.store(x3_ptr + t * B * H + offs, x3, mask=m2)
        tl.store(r3_ptr + t * B + rb, r3, mask=mb)


@triton.jit
def ln_gru_backward(
    dout_ptr,  # (T, B, H)
    dfinal_ptr,  # (B, H)
    h0_ptr,  # (B, H)
    hs_ptr,  # (T, B, H)
    g_ptr,  # (T, B, 3H) r, z, n
    x2_ptr,  # (T, B, 2H)
    r2_ptr,  # (T, B)
    x3_ptr,  # (T, B, H)
    r3_ptr,  # (T, B)
    w_ptr,  # (3H, H)
    a2_ptr,  # (2H,)
    a3_ptr,  # (H,)
    b3_ptr,  # (H,)
    len_ptr,  # (B,)
    dxp_ptr,  # (T, B, 3H) out: dL/dxp
    dp_ptr,  # (T, B, 3H) out: dL/d(the recurrent products): r, z rows, n rows
    dh0_ptr,  # (B, H) out
    da2_ptr,  # (programs, 2H) out: this program's share of dL/d ln_hrz.weight
    da3_ptr,  # (programs, H) out: of dL/d ln_hn.weight
    db3_ptr,  # (programs, H) out: of dL/d ln_hn.bias
    T,
    B,
    H,
    AFTER: tl.constexpr,
    HAS_DOUT: tl.constexpr,
    HAS_DFINAL: tl.constexpr,
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
    goffs = rb[:, None] * 3 * H + rh[None, :]
    zoffs = rb[:, None] * 2 * H + rh[None, :]
    wr = load_square(w_ptr, 0, H, BLOCK_H, False)  # W_hr, W_hz, W_hn: on chip for all steps
    wz = load_square(w_ptr, H, H, BLOCK_H, False)
    wn = load_square(w_ptr, 2 * H, H, BLOCK_H, False)
    a2r = tl.load(a2_ptr + rh, mask=rh < H, other=0.0)[None, :]
    a2z = tl.load(a2_ptr + H + rh, mask=rh < H, other=0.0)[None, :]
    a3 = tl.load(a3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    b3 = tl.load(b3_ptr + rh, mask=rh < H, other=0.0)[None, :]
    if HAS_DFINAL:
        dh = tl.load(dfinal_ptr + offs, mask=m2, other=0.0)
    else:
        dh = tl.zeros((BLOCK_B, BLOCK_H), dtype=tl.float32)
    sa2r = tl.zeros((BLOCK_H,), dtype=tl.float32)
    sa2z = tl.zeros((BLOCK_H,), dtype=tl.float32)
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
            prev = tl.load(hs_ptr + (t - 1) * B * H + offs, mask=m2, other=0.0)
        else:
            prev = tl.load(h0_ptr + offs, mask=m2, other=0.0)
        gb = g_ptr + t * B * 3 * H + goffs
        r = tl.load(gb, mask=m2, other=0.0)
        z = tl.load(gb + H, mask=m2, other=0.0)
        n = tl.load(gb + 2 * H, mask=m2, other=0.0)
        x3 = tl.load(x3_ptr + t * B * H + offs, mask=m2, other=0.0)
        r3 = tl.load(r3_ptr + t * B + rb, mask=mb, other=0.0)[:, None]
        dan = tl.where(valid, dh * (1.0 - z) * (1.0 - n * n), 0.0)  # through n = tanh(.)
        daz = tl.where(valid, dh * (prev - n) * z * (1.0 - z), 0.0)
        if AFTER:
            dl3 = dan * r  # dL/d LN(W_hn h)
        else:
            dl3 = dan  # dL/d LN(W_hn (r h))
        sa3 += tl.sum(dl3 * x3, 0)
        sb3 += tl.sum(dl3, 0)
        n3 = dl3 * a3
        m1 = tl.sum(n3, 1)[:, None] / H
        mx = tl.sum(n3 * x3, 1)[:, None] / H
        dpn = tl.where(valid, r3 * (n3 - m1 - x3 * mx), 0.0)  # dL/d(the n product)
        if AFTER:
            dar = tl.where(valid, dan * (x3 * a3 + b3) * r * (1.0 - r), 0.0)  # through r LN(W_hn h)
        else:
            drh = tl.dot(dpn, wn, input_precision=PRECISION)  # dL/d(r h_{t-1})
            dar = tl.where(valid, drh * prev * r * (1.0 - r), 0.0)
        db = dxp_ptr + t * B * 3 * H + goffs
        tl.store(db, dar, mask=m2)
        tl.store(db + H, daz, mask=m2)
        tl.store(db + 2 * H, dan, mask=m2)
        xb = x2_ptr + t * B * 2 * H + zoffs
        xr = tl.load(xb, mask=m2, other=0.0)
        xz = tl.load(xb + H, mask=m2, other=0.0)
        r2 = tl.load(r2_ptr + t * B + rb, mask=mb, other=0.0)[:, None]
        sa2r += tl.sum(dar * xr, 0)
        sa2z += tl.sum(daz * xz, 0)
        nr, nz = dar * a2r, daz * a2z  # dL/d(the normalised r, z product)
        m1 = (tl.sum(nr, 1) + tl.sum(nz, 1))[:, None] / (2 * H)
        mx = (tl.sum(nr * xr, 1) + tl.sum(nz * xz, 1))[:, None] / (2 * H)
        dpr = tl.where(valid, r2 * (nr - m1 - xr * mx), 0.0)
        dpz = tl.where(valid, r2 * (nz - m1 - xz * mx), 0.0)
        pb = dp_ptr + t * B * 3 * H + goffs
        tl.store(pb, dpr, mask=m2)
        tl.store(pb + H, dpz, mask=m2)
        tl.store(pb + 2 * H, dpn, mask=m2)
        back = dh * z + tl.dot(dpr, wr, input_precision=PRECISION) + tl.dot(dpz, wz, input_precision=PRECISION)
        if AFTER:
            back += tl.dot(dpn, wn, input_precision=PRECISION)
        else:
            back += drh * r
        dh = tl.where(valid, back, dh)
    tl.store(dh0_ptr + offs, dh, mask=m2)
    mh1 = rh < H
    tl.store(da2_ptr + pid * 2 * H + rh, sa2r, mask=mh1)
    tl.store(da2_ptr + pid * 2 * H + H + rh, sa2z, mask=mh1)
    tl.store(da3_ptr + pid * H + rh, sa3, mask=mh1)
    tl.store(db3_ptr + pid * H + rh, sb3, mask=mh1)
