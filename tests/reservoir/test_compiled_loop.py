"""The compiled reservoir loop equals the numpy loop and a plain torch loop (sparse and dense W, unit and per-unit
leak, one and three sequences, float32 and float64), chunked calls give the bits of one call, the numpy loop runs
when numba is missing, and the Reservoir and ESN give the same results through it."""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
import torch

from unrolled.reservoir import compiled_loop as cl
from unrolled.reservoir import overlapped_fit as ov
from unrolled.reservoir.cpu_loop import leaky_tanh_loop
from unrolled.reservoir.esn import ESN
from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig

TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _case(N: int, density: float, dtype: type, B: int, T: int, unit_leak: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    W = rng.uniform(-1, 1, (N, N)) * (rng.random((N, N)) < density)
    W *= 0.9 / max(np.abs(np.linalg.eigvals(W)).max(), 1e-12)
    a = np.ones(N) if unit_leak else rng.uniform(0.1, 1.0, N)
    d = rng.standard_normal((T, B, N))
    x0 = rng.standard_normal((B, N)) * 0.5
    return (np.ascontiguousarray(v, dtype=dtype) for v in (d, W, a, x0))


def _torch_loop(d: np.ndarray, W: np.ndarray, a: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """The recurrence written plainly over float64 tensors."""
    d, W, a, x = (torch.from_numpy(v).double() for v in (d, W, a, x0))
    out = []
    for t in range(d.shape[0]):
        x = (1 - a) * x + a * torch.tanh(x @ W.T + d[t])  # (B, N)
        out.append(x)
    return torch.stack(out).numpy()  # (T, B, N)


@pytest.fixture
def without_numba(monkeypatch):
    """numba unimportable (``import numba`` raises ImportError) for the test, the kernels resolved again after."""
    cl.numba_kernels.cache_clear()
    monkeypatch.setitem(sys.modules, "numba", None)
    yield
    cl.numba_kernels.cache_clear()


numba_only = pytest.mark.skipif(cl.numba_kernels() is None, reason="numba is not installed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", [0.15, 1.0])
@pytest.mark.parametrize("unit_leak", [False, True])
@pytest.mark.parametrize("B", [1, 3])
def test_loop_equals_numpy_and_torch_loops(dtype, density, unit_leak, B):
    d, W, a, x0 = _case(13, density, dtype, B, 17, unit_leak)
    kept = x0.copy()
    loop = cl.ReservoirLoop(W)
    if cl.numba_kernels() is not None and density < cl.SPARSE_BELOW:
        assert loop.kernel == "sparse"
    out = loop(d, a, x0)  # (T, B, N)
    assert out.dtype == dtype and out.shape == d.shape
    np.testing.assert_array_equal(x0, kept)  # the initial state is read, never written
    tol = TOL[dtype]
    np.testing.assert_allclose(out, leaky_tanh_loop(d, W, a, x0), rtol=tol, atol=tol)
    np.testing.assert_allclose(out, _torch_loop(d, W, a, x0), rtol=tol, atol=tol)
    np.testing.assert_array_equal(out, cl.compiled_leaky_tanh_loop(d, W, a, x0))


@numba_only
def test_sparse_kernel_by_hand():
    """N = 2, W = [[0, 0.5], [-1, 0]] (row 0 has one nonzero, row 1 one), leak (1, 0.5), one step from x0."""
    W = np.array([[0.0, 0.5], [-1.0, 0.0]])
    loop = cl.ReservoirLoop(W)
    assert loop.kernel == "sparse"
    np.testing.assert_array_equal(loop._indptr, [0, 1, 2])
    np.testing.assert_array_equal(loop._indices, [1, 0])
    np.testing.assert_array_equal(loop._data, [0.5, -1.0])
    x0 = np.array([[0.2, 0.4]])
    d = np.array([[[0.1, -0.3]]])
    got = loop(d, np.array([1.0, 0.5]), x0)[0, 0]
    want = [np.tanh(0.5 * 0.4 + 0.1), 0.4 + 0.5 * (np.tanh(-1.0 * 0.2 - 0.3) - 0.4)]
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)


@numba_only
def test_float32_tanh_approximation_is_within_4e_7_of_tanh():
    """W = 0, a = 1: each state is tanh of the drive; drive over [-20, 20], past the clamp at +-7.9."""
    d = np.linspace(-20, 20, 400_000, dtype=np.float32)  # (T * N,)
    loop = cl.ReservoirLoop(np.zeros((8, 8), dtype=np.float32))
    assert loop.kernel == "sparse"
    got = loop(d.reshape(-1, 1, 8), np.ones(8, np.float32), np.zeros((1, 8), np.float32)).reshape(-1)  # (T * N,)
    assert np.abs(got.astype(np.float64) - np.tanh(d.astype(np.float64))).max() < 4e-7
    assert got.max() <= 1 and got.min() >= -1  # bounded (not monotone to the last ulp near the clamp)
    d[3] = np.nan  # NaN propagates (as through np.tanh), not clamped to +-1
    assert np.isnan(loop(d.reshape(-1, 1, 8), np.ones(8, np.float32), np.zeros((1, 8), np.float32))[0, 0, 3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", [0.1, 1.0])
def test_chunked_calls_equal_one_call_bit_for_bit(dtype, density):
    d, W, a, x0 = _case(11, density, dtype, 2, 40, unit_leak=False, seed=1)
    loop = cl.ReservoirLoop(W)
    whole = loop(d, a, x0)
    x, parts = x0, []
    for t0 in range(0, 40, 7):  # chunks of 7, the last one of 5
        parts.append(loop(d[t0 : t0 + 7], a, x))
        x = parts[-1][-1]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_numpy_loop_runs_without_numba(without_numba):
    d, W, a, x0 = _case(12, 0.1, np.float64, 2, 15, unit_leak=False, seed=2)
    assert cl.numba_kernels() is None
    loop = cl.ReservoirLoop(W)
    assert loop.kernel == "numpy"
    np.testing.assert_array_equal(loop(d, a, x0), leaky_tanh_loop(d, W, a, x0))


def test_other_dtypes_run_the_numpy_loop():
    d, W, a, x0 = _case(6, 0.3, np.float16, 1, 4, unit_leak=True)
    loop = cl.ReservoirLoop(W)
    assert loop.kernel == "numpy"
    np.testing.assert_array_equal(loop(d, a, x0), leaky_tanh_loop(d, W, a, x0))


@numba_only
def test_kernels_release_the_gil():
    assert all(k.targetoptions.get("nogil") for k in cl.numba_kernels())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reservoir_through_the_loop_equals_the_torch_path(dtype):
    res = Reservoir(ReservoirConfig(units=30, input_size=2, leak_rate=0.4, bias_scaling=0.1, seed=4)).to(dtype)
    u = torch.randn(3, 21, 2, dtype=dtype)
    fast, last = res(u)
    slow, _ = res(u.clone().requires_grad_())  # the torch loop
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(fast, slow.detach(), rtol=tol, atol=tol)
    torch.testing.assert_close(last, fast[:, -1], rtol=0, atol=0)
    if cl.numba_kernels() is not None:
        assert res.loop().kernel == "sparse"


def test_reservoir_keeps_its_loop_until_the_weight_changes():
    res = Reservoir(ReservoirConfig(units=20, seed=5)).double()
    u = torch.randn(1, 9, 1, dtype=torch.float64)
    first = res.loop()
    assert res.loop() is first
    before, _ = res(u)
    with torch.no_grad():
        res.weight_hh.mul_(0.5)  # in place: a new version of the same tensor
    assert res.loop() is not first
    after, _ = res(u)
    slow, _ = res(u.clone().requires_grad_())
    torch.testing.assert_close(after, slow.detach(), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(before, after)
    twin = copy.deepcopy(res)  # the cache is not copied; the copy builds its own
    assert twin.__dict__["_loop_cache"] is None
    torch.testing.assert_close(twin(u)[0], after, rtol=0, atol=0)
    res.float()  # a new tensor
    assert res.loop().dtype == np.float32


@pytest.mark.parametrize("overlap", [False, True])
def test_esn_fit_is_unchanged_by_the_compiled_loop(overlap, monkeypatch):
    monkeypatch.setattr(ov, "_cores", lambda: 2)  # so that the overlapped (chunked) fit runs where asked
    monkeypatch.setattr(ov, "MIN_FEATURES", 20)
    cfg = ReservoirConfig(units=25, input_size=1, leak_rate=0.3, spectral_radius=1.1, seed=6)
    u = torch.randn(1, 700, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # (1, T, 1)
    esn = ESN(cfg, 1, ridge=1e-4, washout=50, overlap=overlap).double()
    if overlap:
        if ov._blas_controller() is None:
            pytest.skip("threadpoolctl is not installed: nothing is overlapped")
        assert ov.can_overlap(esn.reservoir, u[:, :-1], washout=50)  # the chunked fit runs
    esn.fit(u[:, :-1], u[:, 1:])
    pred, _ = esn(u[:, :-1])
    cl.numba_kernels.cache_clear()
    with monkeypatch.context() as m:  # the same fit with the numpy loop
        m.setitem(sys.modules, "numba", None)
        ref = ESN(cfg, 1, ridge=1e-4, washout=50, overlap=overlap).double()
        assert ref.reservoir.loop().kernel == "numpy"
        ref.fit(u[:, :-1], u[:, 1:])
        ref_pred, _ = ref(u[:, :-1])
    cl.numba_kernels.cache_clear()
    torch.testing.assert_close(esn.readout.weight, ref.readout.weight, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(pred, ref_pred, rtol=1e-9, atol=1e-9)
