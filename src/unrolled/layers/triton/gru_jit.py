r"""Triton kernels of the GRU with the reset gate before the product (Cho et al. 2014): the whole time loop in one
launch, forward and backward.

.. math::
    r, z = \sigma(\mathrm{xp}_{r,z} + h_{t-1} W_{hr,hz}^\top), \quad
    n = \tanh(\mathrm{xp}_n + (r \odot h_{t-1}) W_{hn}^\top), \quad h_t = n + z \odot (h_{t-1} - n)

(``b_hn`` is folded into :math:`\mathrm{xp}_n` by the scan kernel's ``prepare``). One program owns ``BLOCK_B``
sequences and keeps the three H x H tiles of ``weight_hh`` on chip for all T steps (FlashRNN, Pöppel et al.
2024); ``gates`` (T, B, 3H) holds :math:`r, z, n` for the backward.
"""

from __future__ import annotations

import triton
import triton.language as tl

from unrolled.layers.triton.jit_common import load_square, sigmoid, tanh


@triton.jit
def gru_before_forward(
    xp_ptr,  # (T, B, 3H)
    h0_ptr,  # (B, H)
    w_ptr,  # (3H, H) weight_hh
    len_ptr,  # (B,)
    hs_ptr,  # (T, B, H) out: states
    g_ptr,  # (T, B, 3H) out: r, z, n
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
    m2 = (rb[:, None] < B) & (rh[None, :] < H)
    offs = rb[:, None] * H + rh[None, :]
    goffs = rb[:, None] * 3 * H + rh[None, :]
    wr = load_square(w_ptr, 0, H, BLOCK_H, True)  # W_hr^T, W_hz^T, W_hn^T: on chip for all steps
    wz = load_square(w_ptr, H, H, BLOCK_H, True)
    wn = load_square(w_ptr, 2 * H, H, BLOCK_H, True)
    h = tl.load(h0_ptr + offs, mask=m2, other=0.0)
    if HAS_LEN:
        n_len = tl.load(len_ptr + rb, mask=rb < B, other=0)
    for t in range(T):
        base = xp_ptr + t * B * 3 * H + goffs
        r = sigmoid(tl.load(base, mask=m2, other=0.0) + tl.dot(h, wr, input_precision=PRECISION))
        z = sigmoid(tl.load(base + H, mask=m2, other=0.0) + tl.dot(h, wz, input_precision=PRECISION))
        n = tanh(tl.load(base + 2 * H, mask=m2, other=0.0) + tl.dot(r * h, wn, input_precision=PRECISION))
        new = n + z * (h - n)  # (1 - z) n + z h
        if HAS_LEN:
            new = tl.where((t < n_len)[:, None], new, h)
        h = tl.where(m2, new, 0.0)
        gbase = g_ptr + t * B * 3 * H + goffs
        tl.store(gbase, r, mask=m2)
        tl.store(gbase + H, z, mask=m2)
        tl.store(gbase + 2 * H, n, mask=m2)
        tl.store(hs_ptr + t * B * H + offs, h, mask=m2)


@triton.jit
def gru_before_backward(
    dout_ptr,  # (T, B, H)
    dfinal_ptr,  # (B, H)
    h0_ptr,  # (B, H)
    hs_ptr,  # (T, B, H)
    g_ptr,  # (T, B, 3H) r, z, n
    w_ptr,  # (3H, H)
    len_ptr,  # (B,)
    da_ptr,  # (T, B, 3H) out: dL/d(pre-activations of r, z, n)
    dh0_ptr,  # (B, H) out
    T,
    B,
    H,
    HAS_DOUT: tl.constexpr,
    HAS_DFINAL: tl.constexpr,
    HAS_LEN: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
    PRECISION: tl.constexpr,
):
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = tl.arange(0, BLOCK_H)
    m2 = (rb[:, None] < B) & (rh[None, :] < H)
    offs = rb[:, None] * H + rh[None, :]
    goffs = rb[:, None] * 3 * H + rh[None, :]
    wr = load_square(w_ptr, 0, H, BLOCK_H, False)  # W_hr, W_hz, W_hn: on chip for all steps
    wz = load_square(w_ptr, H, H, BLOCK_H, False)
    wn = load_square(w_ptr, 2 * H, H, BLOCK_H, False)
    if HAS_DFINAL:
        dh = tl.load(dfinal_ptr + offs, mask=m2, other=0.0)
    else:
        dh = tl.zeros((BLOCK_B, BLOCK_H), dtype=tl.float32)
    if HAS_LEN:
        n_len = tl.load(len_ptr + rb, mask=rb < B, other=0)
    for i in range(T):
        t = T - 1 - i
        valid = m2
        if HAS_LEN:
            valid = m2 & (t < n_len)[:, None]
        if HAS_DOUT:
            dh += tl.where(valid, tl.load(dout_ptr + t * B * H + offs, mask=m2, other=0.0), 0.0)
        if t > 0:
            prev = tl.load(hs_ptr + (t - 1) * B * H + offs, mask=m2, other=0.0)
        else:
            prev = tl.load(h0_ptr + offs, mask=m2, other=0.0)
        gbase = g_ptr + t * B * 3 * H + goffs
        r = tl.load(gbase, mask=m2, other=0.0)
        z = tl.load(gbase + H, mask=m2, other=0.0)
        n = tl.load(gbase + 2 * H, mask=m2, other=0.0)
        dan = tl.where(valid, dh * (1.0 - z) * (1.0 - n * n), 0.0)  # through n = tanh(.)
        drh = tl.dot(dan, wn, input_precision=PRECISION)  # dL/d(r h_{t-1})
        dar = tl.where(valid, drh * prev * r * (1.0 - r), 0.0)
        daz = tl.where(valid, dh * (prev - n) * z * (1.0 - z), 0.0)
        dabase = da_ptr + t * B * 3 * H + goffs
        tl.store(dabase, dar, mask=m2)
        tl.store(dabase + H, daz, mask=m2)
        tl.store(dabase + 2 * H, dan, mask=m2)
        back = dh * z + drh * r
        back += tl.dot(dar, wr, input_precision=PRECISION) + tl.dot(daz, wz, input_precision=PRECISION)
        dh = tl.where(valid, back, dh)
    tl.store(dh0_ptr + offs, dh, mask=m2)
