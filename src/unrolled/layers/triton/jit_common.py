r"""Triton device functions shared by the cell kernels: the nonlinearities, their derivatives, and tile loads.

Imports :mod:`triton` at import time: only the ``*_jit`` modules import this one, and only
:mod:`unrolled.layers.triton.kernel` imports those, lazily, when a kernel is first launched.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def sigmoid(a):
    """:math:`1 / (1 + e^{-a})`; saturates to 0 and 1 without NaN (exp overflows to inf)."""
    return 1.0 / (1.0 + tl.exp(-a))


@triton.jit
def tanh(a):
    r""":math:`\tanh a = 2 \sigma(2a) - 1` (core ``triton.language`` has no tanh that also runs in the
    interpreter); absolute error about 1e-7 in float32."""
    return 2.0 / (1.0 + tl.exp(-2.0 * a)) - 1.0


@triton.jit
def activate(a, ACT: tl.constexpr):
    """The cell's nonlinearity by code (:data:`~unrolled.layers.triton.kernel.ACT_CODES`)."""
    if ACT == 0:
        y = tanh(a)
    elif ACT == 1:
        y = tl.maximum(a, 0.0)
    else:
        y = sigmoid(a)
    return y


@triton.jit
def activate_grad(y, ACT: tl.constexpr):
    r""":math:`\phi'(a)` written in terms of the output :math:`y = \phi(a)`."""
    if ACT == 0:
        d = 1.0 - y * y
    elif ACT == 1:
        d = (y > 0.0).to(tl.float32)
    else:
        d = y * (1.0 - y)
    return d


@triton.jit
def load_square(w_ptr, row0, H, BLOCK_H: tl.constexpr, TRANSPOSE: tl.constexpr):
    r"""The (H, H) block of a row-major (·, H) matrix starting at row ``row0``, zero-padded to
    (BLOCK_H, BLOCK_H); transposed when ``TRANSPOSE`` (the right operand of :math:`h W^\top`)."""
    r = tl.arange(0, BLOCK_H)
    m = (r[:, None] < H) & (r[None, :] < H)
    if TRANSPOSE:
        tile = tl.load(w_ptr + (row0 + r[None, :]) * H + r[:, None], mask=m, other=0.0)  # [k, j] = W[j, k]
    else:
        tile = tl.load(w_ptr + (row0 + r[:, None]) * H + r[None, :], mask=m, other=0.0)  # [j, k] = W[j, k]
    return tile
