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


@triton.jit
def leaky_forward_streamed(
    xp_ptr,  # (T, B, H)
    hs_ptr,  # (T + 1, B, H) in: hs[0] = s_0; out: hs[t + 1] = s_t
    w_ptr,  # (H, H)
    leak_ptr,  # (H,)
    len_ptr,  # (B,)
    a_ptr,  # (T, B, H) out: activations
    T,
    B,
    H,
    NT,  # tiles of BLOCK_K units
    HAS_LEN: tl.constexpr,
    ACT: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """For H too large to keep W on chip: W and s_{t-1} streamed in BLOCK_K x BLOCK_K tiles every step, a
    barrier between steps (as ``elman_forward_streamed``)."""
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rk = tl.arange(0, BLOCK_K)
    mb = rb < B
    if HAS_LEN:
        n = tl.load(len_ptr + rb, mask=mb, other=0)
    for t in range(T):
        prev = hs_ptr + t * B * H
        for j in range(NT):
            cj = j * BLOCK_K + rk
            mj = mb[:, None] & (cj < H)[None, :]
            oj = rb[:, None] * H + cj[None, :]
            a = tl.load(xp_ptr + t * B * H + oj, mask=mj, other=0.0)
            for k in range(NT):
                ck = k * BLOCK_K + rk
                sk = tl.load(prev + rb[:, None] * H + ck[None, :], mask=mb[:, None] & (ck < H)[None, :], other=0.0)
                wk = tl.load(
                    w_ptr + cj[None, :] * H + ck[:, None], mask=(ck < H)[:, None] & (cj < H)[None, :], other=0.0
                )
                a += tl.dot(sk, wk, input_precision=PRECISION)
            a = activate(a, ACT)
            s = tl.load(prev + oj, mask=mj, other=0.0)
            leak = tl.load(leak_ptr + cj, mask=cj < H, other=0.0)[None, :]
            new = s + leak * (a - s)
            if HAS_LEN:
                new = tl.where((t < n)[:, None], new, s)
            tl.store(a_ptr + t * B * H + oj, a, mask=mj)
            tl.store(hs_ptr + (t + 1) * B * H + oj, new, mask=mj)
        tl.debug_barrier()


@triton.jit
def leaky_backward_streamed(
    dout_ptr,  # (T, B, H)
    h0_ptr,  # (B, H)
    hs_ptr,  # (T, B, H) s_t
    a_ptr,  # (T, B, H)
    w_ptr,  # (H, H)
    leak_ptr,  # (H,)
    len_ptr,  # (B,)
    da_ptr,  # (T, B, H) out
    dh_ptr,  # (2, B, H) in: dh[0] = dL/ds_T (or 0); scratch; out: dh[T % 2] = dL/ds_0
    dleak_ptr,  # (programs, H) in: zeros; out: this program's share of dL/dw
    T,
    B,
    H,
    NT,
    HAS_DOUT: tl.constexpr,
    HAS_LEN: tl.constexpr,
    ACT: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """The streamed backward (as ``elman_backward_streamed``), with the leak's direct term and its gradient."""
    pid = tl.program_id(0)
    rb = pid * BLOCK_B + tl.arange(0, BLOCK_B)
    rk = tl.arange(0, BLOCK_K)
    mb = rb < B
    if HAS_LEN:
        n = tl.load(len_ptr + rb, mask=mb, other=0)
    for i in range(T):
        t = T - 1 - i
        cur = dh_ptr + (i % 2) * B * H
        nxt = dh_ptr + ((i + 1) % 2) * B * H
        for j in range(NT):
            cj = j * BLOCK_K + rk
            mj = mb[:, None] & (cj < H)[None, :]
            valid = mj
            if HAS_LEN:
                valid = mj & (t < n)[:, None]
            oj = rb[:, None] * H + cj[None, :]
            ds = tl.load(cur + oj, mask=mj, other=0.0)
            if HAS_DOUT:
                ds += tl.where(valid, tl.load(dout_ptr + t * B * H + oj, mask=mj, other=0.0), 0.0)
            if t > 0:
                prev = tl.load(hs_ptr + (t - 1) * B * H + oj, mask=mj, other=0.0)
            else:
                prev = tl.load(h0_ptr + oj, mask=mj, other=0.0)
            a = tl.load(a_ptr + t * B * H + oj, mask=mj, other=0.0)
            leak = tl.load(leak_ptr + cj, mask=cj < H, other=0.0)[None, :]
            part = tl.load(dleak_ptr + pid * H + cj, mask=cj < H, other=0.0)
            part += tl.sum(tl.where(valid, ds * (a - prev), 0.0), axis=0)
            tl.store(dleak_ptr + pid * H + cj, part, mask=cj < H)
            tl.store(da_ptr + t * B * H + oj, tl.where(valid, ds * leak * activate_grad(a, ACT), 0.0), mask=mj)
        tl.debug_barrier()
        for k in range(NT):
            ck = k * BLOCK_K + rk
            mk = mb[:, None] & (ck < H)[None, :]
            valid = mk
            if HAS_LEN:
                valid = mk & (t < n)[:, None]
            ok = rb[:, None] * H + ck[None, :]
            back = tl.zeros((BLOCK_B, BLOCK_K), dtype=tl.float32)
            for j in range(NT):
                cj = j * BLOCK_K + rk
                da = tl.load(
                    da_ptr + t * B * H + rb[:, None] * H + cj[None, :], mask=mb[:, None] & (cj < H)[None, :], other=0.0
                )
                wjk = tl.load(
                    w_ptr + cj[:, None] * H + ck[None, :], mask=(cj < H)[:, None] & (ck < H)[None, :], other=0.0
                )
                back += tl.dot(da, wjk, input_precision=PRECISION)
            ds = tl.load(cur + ok, mask=mk, other=0.0)
            if HAS_DOUT:
                ds += tl.where(valid, tl.load(dout_ptr + t * B * H + ok, mask=mk, other=0.0), 0.0)
            leak = tl.load(leak_ptr + ck, mask=ck < H, other=0.0)[None, :]
            back = tl.where(valid, back + ds * (1.0 - leak), ds)
            tl.store(nxt + ok, back, mask=mk)
        tl.debug_barrier()
