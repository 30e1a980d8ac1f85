r"""Vectorisable :math:`e^x`, :math:`\sigma(x)` and :math:`\tanh x` for numba kernels, in float32 and float64.

numba compiles ``math.exp`` to a call of the C library's scalar ``exp``: a loop calling it is not vectorised
(numba's vector math needs Intel SVML, which is not a dependency). The functions here are written in plain
arithmetic that LLVM vectorises (8 float32 or 4 float64 lanes with AVX2): Cody-Waite range reduction
:math:`x = n \ln 2 + r`, :math:`|r| \le \tfrac12 \ln 2`, then :math:`e^r` by the Cephes ``expf`` polynomial
(float32) or the Cephes ``exp`` Padé form (float64), each within about 1 ulp (Moshier, *Methods and Programs
for Mathematical Functions*, 1989), and :math:`2^n` built in the exponent bits. The argument is clamped to the
normal range (float32 :math:`[-87, 88]`, float64 :math:`[-708, 709]`), which changes :math:`\sigma` and
:math:`\tanh` by less than the smallest normal number.

:math:`\sigma(x) = 1 / (1 + e^{-x})` and :math:`\tanh x = 2 \sigma(2x) - 1` (absolute error about one ulp of 1).

Each function is a numba ``overload`` of a Python stub, specialised per float type so that every constant
has the argument's type (a float64 literal would promote float32 arithmetic to float64 and halve the lanes).
This module imports numba: import it lazily (only when a compiled kernel is built).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

#: fast-math flags of the kernels: reassociation (vectorised sums), contraction (FMA), reciprocals, no signed
#: zeros, approximate functions; never "nnan"/"ninf" (padded steps may hold inf or NaN, see scan's lengths)
FASTMATH = frozenset({"reassoc", "contract", "arcp", "nsz", "afn"})


@intrinsic
def _rint(typingctx, x):
    """x rounded to the nearest integer (``llvm.rint``; a vector round instruction)."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        (value,) = args
        fn = builder.module.declare_intrinsic("llvm.rint", [value.type])
        return builder.call(fn, [value])

    return x(x), codegen


@intrinsic
def _times_pow2(typingctx, p, n):
    """:math:`p \\cdot 2^n` for an integral n in the normal exponent range, via the exponent bits."""
    if not (isinstance(p, types.Float) and p == n):
        return None

    def codegen(context, builder, signature, args):
        value, k = args
        i32 = ir.IntType(32)
        ki = builder.fptosi(k, i32)
        if isinstance(value.type, ir.FloatType):
            bits = builder.shl(builder.add(ki, ir.Constant(i32, 127)), ir.Constant(i32, 23))
        else:
            i64 = ir.IntType(64)
            bits = builder.shl(builder.add(builder.sext(ki, i64), ir.Constant(i64, 1023)), ir.Constant(i64, 52))
        return builder.fmul(value, builder.bitcast(bits, value.type))

    return p(p, n), codegen


def exp(x):
    r""":math:`e^x` (numba only)."""
    raise NotImplementedError("numba_math.exp is for numba-compiled code")


def sigmoid(x):
    r""":math:`1 / (1 + e^{-x})` (numba only)."""
    raise NotImplementedError("numba_math.sigmoid is for numba-compiled code")


def tanh(x):
    r""":math:`\tanh x` (numba only)."""
    raise NotImplementedError("numba_math.tanh is for numba-compiled code")


def float_type(x) -> type | None:
    """The numpy scalar type of a numba float type (None for others)."""
    if x == types.float32:
        return np.float32
    if x == types.float64:
        return np.float64
    return None


@overload(exp)
def _exp(x):
    F = float_type(x)
    if F is None:
        return None
    one, log2e = F(1.0), F(1.4426950408889634)
    if F is np.float32:  # Cephes expf
        lo, hi, c1, c2 = F(-87.0), F(88.0), F(0.693359375), F(-2.12194440e-4)
        p0, p1, p2 = F(1.9875691500e-4), F(1.3981999507e-3), F(8.3334519073e-3)
        p3, p4, p5 = F(4.1665795894e-2), F(1.6666665459e-1), F(5.0000001201e-1)

        def exp32(x):
            x = min(max(x, lo), hi)
            n = _rint(x * log2e)
            r = x - n * c1 - n * c2
            p = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * r * r + r + one
            return _times_pow2(p, n)

        return exp32
    # Cephes exp: e^r = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2))
    lo, hi, c1, c2, two = F(-708.0), F(709.0), F(6.93145751953125e-1), F(1.42860682030941723212e-6), F(2.0)
    P0, P1, P2 = F(1.26177193074810590878e-4), F(3.02994407707441961300e-2), F(9.99999999999999999910e-1)
    Q0, Q1 = F(3.00198505138664455042e-6), F(2.52448340349684104192e-3)
    Q2, Q3 = F(2.27265548208155028766e-1), F(2.00000000000000000009e0)

    def exp64(x):
        x = min(max(x, lo), hi)
        n = _rint(x * log2e)
        r = x - n * c1 - n * c2
        rr = r * r
        pr = r * ((P0 * rr + P1) * rr + P2)
        q = ((Q0 * rr + Q1) * rr + Q2) * rr + Q3
        return _times_pow2(one + two * pr / (q - pr), n)

    return exp64


@overload(sigmoid)
def _sigmoid(x):
    F = float_type(x)
    if F is None:
        return None
    one = F(1.0)

    def impl(x):
        return one / (one + exp(-x))

    return impl


@overload(tanh)
def _tanh(x):
    F = float_type(x)
    if F is None:
        return None
    one, two, minus_two = F(1.0), F(2.0), F(-2.0)

    def impl(x):
        return two / (one + exp(minus_two * x)) - one

    return impl
