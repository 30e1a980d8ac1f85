r"""Triton kernels of the leaky-integrator cell: the whole time loop in one launch, forward and backward.

:math:`a_t = \phi(\mathrm{xp}_t + s_{t-1} W^\top)`, :math:`s_t = s_{t-1} + w \odot (a_t - s_{t-1})` with the
per-unit leak :math:`w = 1/\tau` (H,). One program owns ``BLOCK_B`` sequences and keeps :math:`W` on chip for
all T steps (FlashRNN, Pöppel et al. 2024); ``hs`` (T, B, H) holds :math:`s_t`, held past each end.
"""

from __future__ import annotations

import triton
import triton.language as tl

from unrolled.layers.triton.jit_common import activate, activate_grad, load_square


@triton.jit
def leaky_forward(
    xp_ptr,  # (T, B, H)
    h0_ptr,  # (B, H)
    w_ptr,  # (H, H) weight_hh
    leak_ptr,  # (H,) w = 1 / tau
    len_ptr,  # (B,)
    hs_ptr,  # (T, B, H) out: states s_t
    a_ptr,  # (T, B, H) out: activations a_t (for the backward)
    T,
    B,
    H,
    HAS_LEN: tl.constexpr,
    ACT: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
    PRECISION: tl.constexpr,
):
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = tl.arange(0, BLOCK_H)
    m2 = (rb[:, None] < B) & (rh[None, :] < H)
    offs = rb[:, None] * H + rh[None, :]
    wt = load_square(w_ptr, 0, H, BLOCK_H, True)  # W^T, on chip for all steps
    leak = tl.load(leak_ptr + rh, mask=rh < H, other=0.0)[None, :]  # (1, BLOCK_H)
    s = tl.load(h0_ptr + offs, mask=m2, other=0.0)
    if HAS_LEN:
        n = tl.load(len_ptr + rb, mask=rb < B, other=0)
    for t in range(T):
        a = tl.load(xp_ptr + t * B * H + offs, mask=m2, other=0.0)
        a = activate(a + tl.dot(s, wt, input_precision=PRECISION), ACT)
        new = s + leak * (a - s)
        if HAS_LEN:
            new = tl.where((t < n)[:, None], new, s)
        s = tl.where(m2, new, 0.0)
        tl.store(a_ptr + t * B * H + offs, a, mask=m2)
        tl.store(hs_ptr + t * B * H + offs, s, mask=m2)


@triton.jit
def leaky_backward(
    dout_ptr,  # (T, B, H)
    dfinal_ptr,  # (B, H)
    h0_ptr,  # (B, H)
    hs_ptr,  # (T, B, H)
    a_ptr,  # (T, B, H)
    w_ptr,  # (H, H)
    leak_ptr,  # (H,)
    len_ptr,  # (B,)
    da_ptr,  # (T, B, H) out: dL/d(pre-activation)
    dh0_ptr,  # (B, H) out
    dleak_ptr,  # (programs, H) out: this program's share of dL/dw
    T,
    B,
    H,
    HAS_DOUT: tl.constexpr,
    HAS_DFINAL: tl.constexpr,
    HAS_LEN: tl.constexpr,
    ACT: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    rb = pid * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = tl.arange(0, BLOCK_H)
    m2 = (rb[:, None] < B) & (rh[None, :] < H)
    offs = rb[:, None] * H + rh[None, :]
    w = load_square(w_ptr, 0, H, BLOCK_H, False)  # W, on chip for all steps
    leak = tl.load(leak_ptr + rh, mask=rh < H, other=0.0)[None, :]
    if HAS_DFINAL:
        ds = tl.load(dfinal_ptr + offs, mask=m2, other=0.0)
    else:
        ds = tl.zeros((BLOCK_B, BLOCK_H), dtype=tl.float32)
    dleak = tl.zeros((BLOCK_H,), dtype=tl.float32)
    if HAS_LEN:
        n = tl.load(len_ptr + rb, mask=rb < B, other=0)
    for i in range(T):
        t = T - 1 - i
        valid = m2
        if HAS_LEN:
            valid = m2 & (t < n)[:, None]
        if HAS_DOUT:
            ds += tl.where(valid, tl.load(dout_ptr + t * B * H + offs, mask=m2, other=0.0), 0.0)
        if t > 0:
            prev = tl.load(hs_ptr + (t - 1) * B * H + offs, mask=m2, other=0.0)
        else:
            prev = tl.load(h0_ptr + offs, mask=m2, other=0.0)
        a = tl.load(a_ptr + t * B * H + offs, mask=m2, other=0.0)
        dleak += tl.sum(tl.where(valid, ds * (a - prev), 0.0), axis=0)  # dL/dw = sum ds_t (a_t - s_{t-1})
        da = tl.where(valid, ds * leak * activate_grad(a, ACT), 0.0)
        tl.store(da_ptr + t * B * H + offs, da, mask=m2)
        back = tl.dot(da, w, input_precision=PRECISION) + ds * (1.0 - leak)
        ds = tl.where(valid, back, ds)
    tl.store(dh0_ptr + offs, ds, mask=m2)
    tl.store(dleak_ptr + pid * H + rh, dleak, mask=rh < H)
