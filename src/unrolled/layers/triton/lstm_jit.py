r"""Triton kernels of the peephole LSTM (Gers & Schmidhuber 2000): the whole time loop in one launch, forward and
backward.

.. math::
    i, f = \sigma(\mathrm{xp}_{i,f} + h_{t-1} W_{hi,hf}^\top + w_{ci,cf} \odot c_{t-1}), \quad
    g = \tanh(\mathrm{xp}_g + h_{t-1} W_{hg}^\top), \quad c_t = f c_{t-1} + i g, \\
    o = \sigma(\mathrm{xp}_o + h_{t-1} W_{ho}^\top + w_{co} \odot c_t), \quad h_t = o \tanh c_t

One program owns ``BLOCK_B`` sequences and keeps the four H x H tiles of ``weight_hh`` on chip for all T steps
(FlashRNN, Pöppel et al. 2024); ``gates`` (T, B, 4H) holds :math:`i, f, g, o` for the backward.
"""

from __future__ import annotations

import triton
import triton.language as tl

from unrolled.layers.triton.jit_common import load_square, sigmoid, tanh


@triton.jit
def peephole_lstm_forward(
    xp_ptr,  # (T, B, 4H)
    h0_ptr,  # (B, H)
    c0_ptr,  # (B, H)
    w_ptr,  # (4H, H) weight_hh
    wci_ptr,  # (H,)
    wcf_ptr,  # (H,)
    wco_ptr,  # (H,)
    len_ptr,  # (B,)
    hs_ptr,  # (T, B, H) out: h_t
    cs_ptr,  # (T, B, H) out: c_t
    g_ptr,  # (T, B, 4H) out: i, f, g, o
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
    m2 = mb[:, None] & (rh < H)[None, :]
    offs = rb[:, None] * H + rh[None, :]
    goffs = rb[:, None] * 4 * H + rh[None, :]
    wi = load_square(w_ptr, 0, H, BLOCK_H, True)  # W_hi^T .. W_ho^T: on chip for all steps
    wf = load_square(w_ptr, H, H, BLOCK_H, True)
    wg = load_square(w_ptr, 2 * H, H, BLOCK_H, True)
    wo = load_square(w_ptr, 3 * H, H, BLOCK_H, True)
    wci = tl.load(wci_ptr + rh, mask=rh < H, other=0.0)[None, :]
    wcf = tl.load(wcf_ptr + rh, mask=rh < H, other=0.0)[None, :]
    wco = tl.load(wco_ptr + rh, mask=rh < H, other=0.0)[None, :]
    h = tl.load(h0_ptr + offs, mask=m2, other=0.0)
    c = tl.load(c0_ptr + offs, mask=m2, other=0.0)
    if HAS_LEN:
        n_len = tl.load(len_ptr + rb, mask=mb, other=0)
    for t in range(T):
        base = xp_ptr + t * B * 4 * H + goffs
        gi = sigmoid(tl.load(base, mask=m2, other=0.0) + tl.dot(h, wi, input_precision=PRECISION) + wci * c)
        gf = sigmoid(tl.load(base + H, mask=m2, other=0.0) + tl.dot(h, wf, input_precision=PRECISION) + wcf * c)
        gg = tanh(tl.load(base + 2 * H, mask=m2, other=0.0) + tl.dot(h, wg, input_precision=PRECISION))
        c_new = gf * c + gi * gg
        ao = tl.load(base + 3 * H, mask=m2, other=0.0) + tl.dot(h, wo, input_precision=PRECISION)
        go = sigmoid(ao + wco * c_new)
        h_new = go * tanh(c_new)
        if HAS_LEN:
            keep = (t < n_len)[:, None]
            h_new = tl.where(keep, h_new, h)
            c_new = tl.where(keep, c_new, c)
        h = tl.where(m2, h_new, 0.0)
        c = tl.where(m2, c_new, 0.0)
        tl.store(hs_ptr + t * B * H + offs, h, mask=m2)
        tl.store(cs_ptr + t * B * H + offs, c, mask=m2)
        gb = g_ptr + t * B * 4 * H + goffs
        tl.store(gb, gi, mask=m2)
        tl.store(gb + H, gf, mask=m2)
        tl.store(gb + 2 * H, gg, mask=m2)
        tl.store(gb + 3 * H, go, mask=m2)


@triton.jit
def peephole_lstm_backward(
    dout_ptr,  # (T, B, H)
    dh_fin_ptr,  # (B, H)
    dc_fin_ptr,  # (B, H)
    c0_ptr,  # (B, H)
    cs_ptr,  # (T, B, H)
    g_ptr,  # (T, B, 4H)
    w_ptr,  # (4H, H)
    wci_ptr,  # (H,)
    wcf_ptr,  # (H,)
    wco_ptr,  # (H,)
    len_ptr,  # (B,)
    da_ptr,  # (T, B, 4H) out: dL/d(pre-activations) = dL/dxp
    dh0_ptr,  # (B, H) out
    dc0_ptr,  # (B, H) out
    dpeep_ptr,  # (programs, 3H) out: this program's share of dL/dw_ci, dL/dw_cf, dL/dw_co
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
    m2 = mb[:, None] & (rh < H)[None, :]
    offs = rb[:, None] * H + rh[None, :]
    goffs = rb[:, None] * 4 * H + rh[None, :]
    wi = load_square(w_ptr, 0, H, BLOCK_H, False)  # W_hi .. W_ho: on chip for all steps
    wf = load_square(w_ptr, H, H, BLOCK_H, False)
    wg = load_square(w_ptr, 2 * H, H, BLOCK_H, False)
    wo = load_square(w_ptr, 3 * H, H, BLOCK_H, False)
    wci = tl.load(wci_ptr + rh, mask=rh < H, other=0.0)[None, :]
    wcf = tl.load(wcf_ptr + rh, mask=rh < H, other=0.0)[None, :]
    wco = tl.load(wco_ptr + rh, mask=rh < H, other=0.0)[None, :]
    zero = tl.zeros((BLOCK_B, BLOCK_H), dtype=tl.float32)
    dh = zero
    dc = zero
    # the peephole terms of dL/dc_{t-1} are carried apart and added at the next step: folded into dc's update
    # they crash LLVM's SLP vectorizer (assertion in BoUpSLP::scheduleBlock, triton 3.9, sm_90)
    pc = zero
    if HAS_DH:
        dh = tl.load(dh_fin_ptr + offs, mask=m2, other=0.0)
    if HAS_DC:
        dc = tl.load(dc_fin_ptr + offs, mask=m2, other=0.0)
    sci = tl.zeros((BLOCK_H,), dtype=tl.float32)
    scf = tl.zeros((BLOCK_H,), dtype=tl.float32)
    sco = tl.zeros((BLOCK_H,), dtype=tl.float32)
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
        c = tl.load(cs_ptr + t * B * H + offs, mask=m2, other=0.0)
        gb = g_ptr + t * B * 4 * H + goffs
        gi = tl.load(gb, mask=m2, other=0.0)
        gf = tl.load(gb + H, mask=m2, other=0.0)
        gg = tl.load(gb + 2 * H, mask=m2, other=0.0)
        go = tl.load(gb + 3 * H, mask=m2, other=0.0)
        tc = tanh(c)
        dao = tl.where(valid, dh * tc * go * (1.0 - go), 0.0)
        dc = dc + pc
        dct = dc + tl.where(valid, dh * go * (1.0 - tc * tc) + dao * wco, 0.0)  # total dL/dc_t
        dai = tl.where(valid, dct * gg * gi * (1.0 - gi), 0.0)
        daf = tl.where(valid, dct * c_prev * gf * (1.0 - gf), 0.0)
        dag = tl.where(valid, dct * gi * (1.0 - gg * gg), 0.0)
        sci += tl.sum(dai * c_prev, 0)
        scf += tl.sum(daf * c_prev, 0)
        sco += tl.sum(dao * c, 0)
        db = da_ptr + t * B * 4 * H + goffs
        tl.store(db, dai, mask=m2)
        tl.store(db + H, daf, mask=m2)
        tl.store(db + 2 * H, dag, mask=m2)
        tl.store(db + 3 * H, dao, mask=m2)
        back = tl.dot(dai, wi, input_precision=PRECISION) + tl.dot(daf, wf, input_precision=PRECISION)
        back += tl.dot(dag, wg, input_precision=PRECISION) + tl.dot(dao, wo, input_precision=PRECISION)
        dh = tl.where(valid, back, dh)
        dc = tl.where(valid, dct * gf, dc)
        pc = dai * wci + daf * wcf  # zero past the end (dai = daf = 0 there)
    tl.store(dh0_ptr + offs, dh, mask=m2)
    tl.store(dc0_ptr + offs, dc + pc, mask=m2)
    mh = rh < H
    tl.store(dpeep_ptr + pid * 3 * H + rh, sci, mask=mh)
    tl.store(dpeep_ptr + pid * 3 * H + H + rh, scf, mask=mh)
    tl.store(dpeep_ptr + pid * 3 * H + 2 * H + rh, sco, mask=mh)
