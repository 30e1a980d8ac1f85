"""The ESN's ridge training with the normal equations accumulated on a second core while the reservoir runs."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from unrolled.reservoir.readout import cholesky_normal_solve, ridge_penalty
from unrolled.reservoir.reservoir import Reservoir

__all__ = ["CHUNK", "MIN_FEATURES", "MIN_STEPS", "can_overlap", "overlapped_ridge_fit"]

CHUNK = 256  # steps per hand-over: 256 x 500 float32 states = 0.5 MB, a few ms of work on either side
MIN_STEPS = 2 * CHUNK  # below this the hand-over and the worker's start cost more than the overlap saves
MIN_FEATURES = 200  # below: the Gram matrix is a few ms; overlapping was measured no faster at N = 100 and 200
_controller: object | None = None  # threadpoolctl's ThreadpoolController, built once (~60 ms: it scans the libraries)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _blas_controller() -> object | None:
    """threadpoolctl's controller (to hold numpy's BLAS to one thread per thread during the overlap), or None if
    threadpoolctl is not installed, in which case nothing is overlapped."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        _controller = ThreadpoolController()
    return _controller


def can_overlap(reservoir: Reservoir, input: Tensor, *tensors: Tensor | None, washout: int = 0) -> bool:
    """Whether :func:`overlapped_ridge_fit` applies and helps: the reservoir would run its CPU loop
    (:meth:`Reservoir._fast`: CPU, float32/64, no autograd, one sequence or a small B N^2), this process may use
    at least two cores, there are at least :data:`MIN_STEPS` steps after the washout and :data:`MIN_FEATURES`
    readout features (the units; the Gram matrix costs F^2 per step), and threadpoolctl is installed (it comes
    with scikit-learn)."""
    return (
        input.dim() == 3
        and input.shape[1] - washout >= MIN_STEPS
        and reservoir.units >= MIN_FEATURES
        and reservoir._fast(input.shape[0], input, *tensors)
        and _cores() >= 2
        and _blas_controller() is not None
    )


class _NormalEquations:
    r"""Running sums :math:`A = \sum_c \bar X_c^\top \bar X_c` (F+1, F+1) and :math:`r = \sum_c \bar X_c^\top Y_c`
    (F+1, O) in float64 over chunks of time, :math:`\bar X_c = [X_c, 1]`; rows before ``washout`` are skipped.
    The float64 chunk and the chunk's product live in buffers allocated once (``rows`` = the most rows of a
    chunk): no allocation per chunk, and the worker touches the same memory every time."""

    def __init__(self, features: int, outputs: int, washout: int, bias: bool, with_input: bool, rows: int):
        self.F, self.washout, self.bias, self.with_input = features, washout, bias, with_input
        F1 = features + int(bias)
        self.A = np.zeros((F1, F1))  # (F+1, F+1)
        self.rhs = np.zeros((F1, outputs))  # (F+1, O)
        self._X = np.empty((rows, F1))  # (rows, F+1), one chunk's features in float64
        self._Y = np.empty((rows, outputs))  # (rows, O)
        self._G = np.empty((F1, F1))  # (F+1, F+1), one chunk's Gram matrix
        self._r = np.empty((F1, outputs))  # (F+1, O)

    def add(self, states: np.ndarray, inputs: np.ndarray, targets: np.ndarray, t0: int) -> None:
        """Add the chunk of steps t0.. : states (Tc, B, N), inputs (B, Tc, I), targets (B, Tc, O)."""
        skip = max(0, self.washout - t0)
        if skip >= states.shape[0]:
            return
        Tc, B, N = states.shape
        M = (Tc - skip) * B
        Xd, Yd = self._X[:M], self._Y[:M]  # (M, F+1), (M, O): rows time-major, float64
        Xd[:, :N] = states[skip:].reshape(M, N)  # converted to float64 in the copy
        if self.with_input:
            Xd[:, N : self.F] = inputs[:, skip:].transpose(1, 0, 2).reshape(M, -1)
        if self.bias:
            Xd[:, -1] = 1.0
        Yd[:] = targets[:, skip:].transpose(1, 0, 2).reshape(M, -1)
        with np.errstate(over="ignore", invalid="ignore"):  # NaN / inf: the caller checks the diagonal
            np.matmul(Xd.T, Xd, out=self._G)  # BLAS syrk: numpy recognises X^T X
            self.A += self._G
            np.matmul(Xd.T, Yd, out=self._r)
            self.rhs += self._r


def overlapped_ridge_fit(
    reservoir: Reservoir,
    input: Tensor,
    targets: Tensor,
    washout: int,
    ridge: float,
    bias: bool = True,
    readout_input: bool = False,
    state: Tensor | None = None,
    feedback: Tensor | None = None,
    chunk: int = CHUNK,
) -> tuple[Tensor, Tensor | None] | None:
    r"""Teacher-forced ridge training of an ESN readout, with the normal equations summed on a second core while
    the reservoir is still running.

    The same computation as running :class:`Reservoir` over the whole input and then
    :func:`~unrolled.reservoir.readout.ridge_solve` on the states after the washout, reordered in time: the loop
    (:meth:`Reservoir.loop`, the same kernel as the one-shot run: bit-identical states) runs ``chunk`` steps at a time,
    and each finished chunk of features :math:`\bar X_c = [x_t; u_t; 1]` goes to one worker thread, which adds
    :math:`\bar X_c^\top \bar X_c` and :math:`\bar X_c^\top Y_c` into float64 accumulators; the Cholesky solve of
    :math:`(\sum_c \bar X_c^\top \bar X_c + \lambda D) \bar W = \sum_c \bar X_c^\top Y_c` follows once both are
    done. Only the order of the float64 sums differs from the one-shot fit (the Gram matrix agrees to ~1e-15
    relative).

    Why: for one sequence the fit is two costs in series, both on one core. At N = 500, T = 2000, float32 the loop
    is ~20 us per step with the compiled CSR kernel (:class:`~unrolled.reservoir.compiled_loop.ReservoirLoop`;
    ~40 us in the numpy fallback, whose (N, N) gemv reads the 1 MB W from the shared cache at every step, bound by
    memory, where a second BLAS thread inside the step does not help: the threads wait for each other at every
    step, see :meth:`Reservoir._fast`), and the float64 Gram matrix of the states another ~55 ms. The Gram matrix
    is a sum over time, so it need not wait for the end of the loop; both the compiled loop and BLAS release the
    GIL, so the worker's products run on the second core while the loop keeps the first one. The wall time
    becomes about max(loop, Gram) + the last chunk's share instead of their sum; with the numpy loop, the loop
    ran ~10% slower meanwhile (the cores share the L3 that held W), and on a quiet 2-core machine the fit at
    N = 500 was measured 12% faster in the median (-6% to 33%, ``benchmarks/esn.py``); with the compiled loop
    the Gram matrix is the longer of the two. On a loaded machine, where the second core is taken, it does not
    help. During the fit numpy's BLAS is held to one thread (threadpoolctl; the limit is process-wide and restored
    after), so the two threads use exactly two cores.

    Args:
        reservoir: the ESN's :class:`Reservoir`.
        input: :math:`u`. targets: :math:`y`. washout: the first steps of every sequence left out of the sums.
        ridge: :math:`\lambda \ge 0`. bias: fit an intercept. readout_input: :math:`u_t` is also a feature.
        state: :math:`x_0` (zeros if not given). feedback: the teacher outputs fed back (or None).
        chunk: steps per hand-over to the worker.

    Shape:
        B batch, T time, I inputs, N units, O outputs, F = N (+ I with ``readout_input``).

        - input: (B, T, I); targets: (B, T, O); state: (B, N); feedback: (B, T, O).
        - Returns ``weight`` (O, F) and ``bias`` (O,) (None without bias) in the input's dtype, or None when the
          normal equations are not positive definite (or the states overflow): the caller then runs the
          one-shot fit, which falls back to least squares (or raises the error).

    Example::

        >>> res = Reservoir(units=20, input_size=1, seed=0)
        >>> u = torch.sin(torch.arange(700.0) / 8).reshape(1, -1, 1)
        >>> W, c = overlapped_ridge_fit(res, u[:, :-1], u[:, 1:], washout=50, ridge=1e-6)
        >>> W.shape, c.shape
        (torch.Size([1, 20]), torch.Size([1]))
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"overlapped_ridge_fit: expected chunk to be an int >= 1, got {chunk!r}")
    reservoir._check(input, feedback, state)
    B, T = input.shape[:2]
    N = reservoir.units
    drive = reservoir.teacher_drive(input, feedback)  # (B, T, N)
    d = drive.detach().transpose(0, 1).contiguous().numpy()  # (T, B, N)
    x = np.zeros((B, N), dtype=d.dtype) if state is None else state.detach().contiguous().numpy()  # (B, N)
    loop, leak = reservoir.loop(), reservoir.leak_rate.numpy()  # the compiled kernel (GIL released) or numpy
    u, y = input.detach().numpy(), targets.detach().numpy()  # (B, T, I), (B, T, O)
    F = N + (input.shape[-1] if readout_input else 0)
    sums = _NormalEquations(F, targets.shape[-1], washout, bias, readout_input, rows=min(chunk, T) * B)
    controller = _blas_controller()
    with controller.limit(limits=1, user_api="blas"), ThreadPoolExecutor(1) as worker:  # type: ignore[union-attr]
        pending = []
        for t0 in range(0, T, chunk):
            t1 = min(T, t0 + chunk)
            states = loop(d[t0:t1], leak, x)  # (Tc, B, N)
            x = states[-1]  # (B, N)
            if t1 > washout:
                pending.append(worker.submit(sums.add, states, u[:, t0:t1], y[:, t0:t1], t0))
        for f in pending:
            f.result()  # re-raises a worker's error
    A, rhs = torch.from_numpy(sums.A), torch.from_numpy(sums.rhs)  # (F+1, F+1), (F+1, O)
    if not bool(torch.isfinite(A.diagonal()).all()):
        return None
    sol = cholesky_normal_solve(A, rhs, ridge_penalty(F, ridge, bias))  # (F+1, O)
    if sol is None:
        return None
    Wout = sol.t().to(input.dtype)  # (O, F+1)
    if bias:
        return Wout[:, :-1].contiguous(), Wout[:, -1].contiguous()
    return Wout.contiguous(), None
