"""The reservoir recurrence compiled with numba: every step in one call, W read in CSR form when it is sparse."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from unrolled._numba import cached_njit, numba_available
from unrolled.reservoir.cpu_loop import leaky_tanh_loop

__all__ = ["SMALL_NNZ", "SPARSE_BELOW", "ReservoirLoop", "compiled_leaky_tanh_loop", "numba_kernels"]

SPARSE_BELOW = 0.25  # W with a smaller fraction of nonzeros runs the CSR kernel (measured: see ReservoirLoop)
SMALL_NNZ = 10_000  # ... and so does any W with at most this many nonzeros (the numpy loop's fixed cost dominates)


def _sparse_kernel(drive, indptr, indices, data, leak, full, rational, state, out):
    """x_t = (1 - a) x_{t-1} + a tanh(W x_{t-1} + d_t) for all t, W in CSR (indptr, indices, data: unsigned indices,
    so no negative-index wraparound per access), written into out. ``rational``: float32's tanh by the rational
    approximation (vectorised) instead of a libm call per unit."""
    T, B, N = drive.shape
    c = np.float32(7.90531110763549805)  # the approximation clamps |x| here (tanh(7.9) = 1 - 3e-7)
    for b in range(B):  # the sequences are independent; the CSR arrays stay in the core's cache for all of them
        prev = state[b]  # (N,)
        for t in range(T):
            d = drive[t, b]  # (N,)
            o = out[t, b]  # (N,)
            for i in range(N):  # row i: sum_j W_ij x_{t-1,j} + d_{t,i}
                s = d[i] - d[i]  # a zero of the drive's dtype: float32 sums stay float32, as in BLAS
                for k in range(indptr[i], indptr[i + 1]):
                    s += data[k] * prev[indices[k]]
                o[i] = s + d[i]
            if rational:  # float32 tanh: Eigen's [13/6] rational approximation, |error| < 4e-7, no calls: SIMD
                for i in range(N):
                    v = o[i]
                    x = c if v > c else (-c if v < -c else v)  # NaN stays NaN
                    x2 = x * x
                    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
                    p = x2 * p + np.float32(-8.60467152213735e-11)
                    p = x2 * p + np.float32(5.12229709037114e-08)
                    p = x2 * p + np.float32(1.48572235717979e-05)
                    p = x2 * p + np.float32(6.37261928875436e-04)
                    p = x2 * p + np.float32(4.89352455891786e-03)
                    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
                    q = x2 * q + np.float32(2.26843463243900e-03)
                    q = x2 * q + np.float32(4.89352518554385e-03)
                    o[i] = x * p / q
            else:
                for i in range(N):
                    o[i] = np.tanh(o[i])
            if not full:
                for i in range(N):
                    o[i] = prev[i] + leak[i] * (o[i] - prev[i])  # (1 - a) x_{t-1} + a tanh(.), in cpu_loop's order
            prev = o
    return out


@functools.cache
def numba_kernels() -> tuple[Callable] | None:
    """The compiled kernels (sparse), or None when numba is not importable (then the numpy loop runs).
    Resolved once per process; numba compiles each dtype on its first call and caches it on disk."""
    if not numba_available():
        return None
    options = {
        "nogil": True,  # the overlapped fit's worker thread runs meanwhile
        "fastmath": {"reassoc", "contract"},  # row sums in several SIMD lanes; fused multiply-adds; NaN/inf kept
    }
    return (cached_njit(**options)(_sparse_kernel),)  # compiled once per dtype (~1-3 s), then loaded from disk


class ReservoirLoop:
    r"""The reservoir recurrence :math:`x_t = (1 - a) \odot x_{t-1} + a \odot \tanh(W x_{t-1} + d_t)`, t = 1..T,
    run by a kernel chosen once for the weight ``W``.

    Built once per weight (the :class:`~unrolled.reservoir.reservoir.Reservoir` keeps one per version of its
    ``weight_hh``), then called with the drive of any number of steps. With numba, all T steps of all B sequences
    run in one compiled call that releases the GIL; each step computes every row's sparse dot
    :math:`\sum_j W_{ij} x_{t-1,j} + d_{t,i}` straight into the output row, then tanh and the leak in place, with
    W in CSR form (row pointers, unsigned column indices, values: 0.2 MB at N = 500, 10% nonzeros, float32, held
    in the core's L2 cache, where the numpy loop's dense gemv reads the 1 MB W from L3 at every step). The same
    kernel on the same inputs gives the same bits, so running the steps in chunks (carrying the last state) equals
    one call over all of them.

    Measured (``benchmarks/esn.py``'s setting: float32, 10% nonzeros, one sequence; per step, min over repeats,
    one core of a loaded 2-core Zen1 EPYC): N = 100 9.5 -> 1.7 us, N = 500 39.9 -> 19.7 us (float64: 13.2 -> 3.9
    and 94 -> 31 us). The CSR dot costs ~0.6 ns per nonzero (SIMD sums over a row, each :math:`x_{t-1,j}` loaded
    on its own: Zen1 has no fast gather); BLAS's gemv alone costs 22 us at N = 500 and the numpy loop's five
    calls per step ~18 us more. Hence the choice: the CSR kernel when fewer than :data:`SPARSE_BELOW` of W is
    nonzero (at N = 500 float32 32 vs 39 us at 20%, 47 vs 40 us at 30%) or W has at most :data:`SMALL_NNZ`
    nonzeros (N = 100 fully dense: 6.0 vs 9.1 us); otherwise the numpy loop
    :func:`~unrolled.reservoir.cpu_loop.leaky_tanh_loop` (a dense compiled row loop, SIMD dot per row, was
    slower than BLAS's gemv from N = 200: 33 vs 22 us at N = 500). Batches run one sequence after another with
    the CSR arrays kept in cache, faster than numpy's batched product at the batch sizes measured (N = 500,
    B = 3: 20 vs 164 us per sequence and step; N = 100, B = 16: 1.5 vs 2.4 us). numba's tanh is a libm
    call (~24 ns, 12 us per step at N = 500), so float32 uses Eigen's [13/6] rational approximation instead
    (SIMD, absolute error < 4e-7 over the reals; float64 keeps libm's tanh). Without numba, or for other dtypes,
    the numpy loop runs for every W.

    Args:
        weight_hh: :math:`W` (N, N), float32 or float64 (other dtypes: the numpy loop).

    Shape:
        B batch, T time, N units.

        - call ``loop(drive, leak, state)``: drive (T, B, N) :math:`d_t` in W's dtype (time first), leak (N,)
          :math:`a`, state (B, N) :math:`x_0` (read, never written).
        - output: the states (T, B, N); the last state is ``output[-1]``.

    Example::

        >>> loop = ReservoirLoop(np.zeros((3, 3)))
        >>> loop(np.ones((2, 1, 3)), np.ones(3), np.zeros((1, 3)))[-1]
        array([[0.76159416, 0.76159416, 0.76159416]])
    """

    def __init__(self, weight_hh: np.ndarray):
        W = np.asarray(weight_hh)  # (N, N)
        self.dtype = W.dtype
        self._weight = W
        kernels = numba_kernels() if W.dtype in (np.float32, np.float64) and W.ndim == 2 else None
        self.kernel = "numpy"  # which one runs, for reports and tests (never branched on in the loop)
        self._run: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] = self._numpy
        if kernels is None:
            return
        nonzero = W != 0  # (N, N)
        nnz = int(nonzero.sum())
        if nnz < SPARSE_BELOW * nonzero.size or nnz <= SMALL_NNZ:
            rows, cols = np.nonzero(nonzero)  # row-major order: each row's columns ascending
            self._indptr = np.zeros(W.shape[0] + 1, dtype=np.uint32)  # (N + 1,)
            self._indptr[1:] = np.cumsum(nonzero.sum(1))
            self._indices = cols.astype(np.uint32)  # (nnz,)
            self._data = np.ascontiguousarray(W[rows, cols])  # (nnz,)
            self._sparse_kernel = kernels[0]
            self.kernel, self._run = "sparse", self._sparse

    def __call__(self, drive: np.ndarray, leak: np.ndarray, state: np.ndarray) -> np.ndarray:
        return self._run(drive, leak, state)

    def _numpy(self, drive: np.ndarray, leak: np.ndarray, state: np.ndarray) -> np.ndarray:
        return leaky_tanh_loop(drive, self._weight, leak, state)

    def _sparse(self, drive: np.ndarray, leak: np.ndarray, state: np.ndarray) -> np.ndarray:
        if drive.dtype != self.dtype:
            return self._numpy(drive, leak, state)
        d = np.ascontiguousarray(drive)  # (T, B, N)
        a = np.ascontiguousarray(leak, dtype=self.dtype)  # (N,)
        x0 = np.ascontiguousarray(state, dtype=self.dtype)  # (B, N)
        out = np.empty_like(d)  # (T, B, N)
        full, rational = bool((a == 1).all()), self.dtype == np.float32
        return self._sparse_kernel(d, self._indptr, self._indices, self._data, a, full, rational, x0, out)


def compiled_leaky_tanh_loop(
    drive: np.ndarray, weight_hh: np.ndarray, leak: np.ndarray, state: np.ndarray
) -> np.ndarray:
    r""":func:`~unrolled.reservoir.cpu_loop.leaky_tanh_loop`'s recurrence and signature through
    :class:`ReservoirLoop` (the compiled kernel where it applies): :math:`x_t = (1 - a) \odot x_{t-1} + a \odot
    \tanh(W x_{t-1} + d_t)`. It builds W's CSR form at every call; to run many calls on one W, build the
    :class:`ReservoirLoop` once.

    Shape:
        B batch, T time, N units. drive (T, B, N), weight_hh (N, N), leak (N,), state (B, N) -> states (T, B, N).

    Example::

        >>> compiled_leaky_tanh_loop(np.ones((2, 1, 3)), np.zeros((3, 3)), np.ones(3), np.zeros((1, 3)))[-1]
        array([[0.76159416, 0.76159416, 0.76159416]])
    """
    return ReservoirLoop(weight_hh)(drive, leak, state)
