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


@triton.jit
def elman_forward_streamed(
    xp_ptr,  # (T, B, H)
    hs_ptr,  # (T + 1, B, H) in: hs[0] = h0; out: hs[t + 1] = h_t
    w_ptr,  # (H, H)
    len_ptr,  # (B,)
    T,
    B,
    H,
    NT,  # tiles of BLOCK_K units: cdiv(H, BLOCK_K)
    HAS_LEN: tl.constexpr,
    ACT: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """For H too large to keep W on chip: each step streams W (from L2) and h_{t-1} (from ``hs``) in
    BLOCK_K x BLOCK_K tiles; a barrier separates the steps (this program wrote h_{t-1}, all of its threads read
    it)."""
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
                hk = tl.load(prev + rb[:, None] * H + ck[None, :], mask=mb[:, None] & (ck < H)[None, :], other=0.0)
                wk = tl.load(
                    w_ptr + cj[None, :] * H + ck[:, None], mask=(ck < H)[:, None] & (cj < H)[None, :], other=0.0
                )
                a += tl.dot(hk, wk, input_precision=PRECISION)  # h_{t-1}[:, k] W^T[k, j]
            new = activate(a, ACT)
            if HAS_LEN:
                new = tl.where((t < n)[:, None], new, tl.load(prev + oj, mask=mj, other=0.0))
            tl.store(hs_ptr + (t + 1) * B * H + oj, new, mask=mj)
        tl.debug_barrier()


@triton.jit
def elman_backward_streamed(
    dout_ptr,  # (T, B, H)
    hs_ptr,  # (T, B, H) h_t
    w_ptr,  # (H, H)
    len_ptr,  # (B,)
    da_ptr,  # (T, B, H) out
    dh_ptr,  # (2, B, H) in: dh[0] = dL/dh_T (or 0); scratch; out: dh[T % 2] = dL/dh_0
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
    """The streamed backward: per step, da_t tile by tile, a barrier, then dh_{t-1} = da_t W tile by tile into the
    other slot of ``dh``, a barrier."""
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
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
            dh = tl.load(cur + oj, mask=mj, other=0.0)
            if HAS_DOUT:
                dh += tl.where(valid, tl.load(dout_ptr + t * B * H + oj, mask=mj, other=0.0), 0.0)
            y = tl.load(hs_ptr + t * B * H + oj, mask=mj, other=0.0)
            tl.store(da_ptr + t * B * H + oj, tl.where(valid, dh * activate_grad(y, ACT), 0.0), mask=mj)
        tl.debug_barrier()
        for k in range(NT):
            ck = k * BLOCK_K + rk
            mk = mb[:, None] & (ck < H)[None, :]
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
                back += tl.dot(da, wjk, input_precision=PRECISION)  # da_t[:, j] W[j, k]
            if HAS_LEN:
                valid = mk & (t < n)[:, None]
                dh = tl.load(cur + ok, mask=mk, other=0.0)
                if HAS_DOUT:
                    dh += tl.where(valid, tl.load(dout_ptr + t * B * H + ok, mask=mk, other=0.0), 0.0)
                back = tl.where(valid, back, dh)  # the identity past the sequence's end
            tl.store(nxt + ok, back, mask=mk)
        tl.debug_barrier()
