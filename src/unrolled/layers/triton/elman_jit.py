r"""Triton kernels of the Elman cell: the whole time loop in one launch, forward and backward.

One program owns ``BLOCK_B`` sequences of the batch and all H units; :math:`W^\top` (forward) or :math:`W`
(backward) is loaded once and stays on chip for all T steps (FlashRNN, Pöppel et al. 2024). ``hs`` holds the
states :math:`h_t` (T, B, H), held past each sequence's end when ``HAS_LEN``.
"""

from __future__ import annotations

import triton
import triton.language as tl

from unrolled.layers.triton.jit_common import activate, activate_grad, load_square


@triton.jit
def elman_forward(
    xp_ptr,  # (T, B, H) projected inputs U x_t + b
    h0_ptr,  # (B, H)
    w_ptr,  # (H, H) weight_hh
    len_ptr,  # (B,) int64 lengths (unused without HAS_LEN)
    hs_ptr,  # (T, B, H) out: states
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
    h = tl.load(h0_ptr + offs, mask=m2, other=0.0)
    if HAS_LEN:
        n = tl.load(len_ptr + rb, mask=rb < B, other=0)
    for t in range(T):
        a = tl.load(xp_ptr + t * B * H + offs, mask=m2, other=0.0)
        a += tl.dot(h, wt, input_precision=PRECISION)  # a_t = xp_t + h_{t-1} W^T
        new = activate(a, ACT)
        if HAS_LEN:
            new = tl.where((t < n)[:, None], new, h)  # held past the sequence's end
        h = tl.where(m2, new, 0.0)
        tl.store(hs_ptr + t * B * H + offs, h, mask=m2)


@triton.jit
def elman_backward(
    dout_ptr,  # (T, B, H) dL/dy (unused without HAS_DOUT)
    dfinal_ptr,  # (B, H) dL/dh_T (unused without HAS_DFINAL)
    hs_ptr,  # (T, B, H) the forward's states
    w_ptr,  # (H, H)
    len_ptr,  # (B,)
    da_ptr,  # (T, B, H) out: dL/da_t (zero past each end)
    dh0_ptr,  # (B, H) out: dL/dh_0
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
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = tl.arange(0, BLOCK_H)
    m2 = (rb[:, None] < B) & (rh[None, :] < H)
    offs = rb[:, None] * H + rh[None, :]
    w = load_square(w_ptr, 0, H, BLOCK_H, False)  # W, on chip for all steps
    if HAS_DFINAL:
        dh = tl.load(dfinal_ptr + offs, mask=m2, other=0.0)
    else:
        dh = tl.zeros((BLOCK_B, BLOCK_H), dtype=tl.float32)
    if HAS_LEN:
        n = tl.load(len_ptr + rb, mask=rb < B, other=0)
    for i in range(T):
        t = T - 1 - i
        valid = m2
        if HAS_LEN:
            valid = m2 & (t < n)[:, None]
        if HAS_DOUT:
            dh += tl.where(valid, tl.load(dout_ptr + t * B * H + offs, mask=m2, other=0.0), 0.0)
        y = tl.load(hs_ptr + t * B * H + offs, mask=m2, other=0.0)
        da = tl.where(valid, dh * activate_grad(y, ACT), 0.0)  # dL/da_t = dh_t phi'(a_t)
        tl.store(da_ptr + t * B * H + offs, da, mask=m2)
        back = tl.dot(da, w, input_precision=PRECISION)  # dL/dh_{t-1} through W
        dh = tl.where(valid, back, dh)  # the identity past the sequence's end
    tl.store(dh0_ptr + offs, dh, mask=m2)
