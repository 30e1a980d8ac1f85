"""Overlapped ESN fit: chunked normal equations equal the one-shot Gram matrix; the fit equals ridge_solve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import unrolled.reservoir.esn as esn_module
from unrolled.reservoir import overlapped_fit as ov
from unrolled.reservoir.esn import ESN
from unrolled.reservoir.readout import ridge_solve
from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_chunked_sums_equal_the_gram_matrix_after_washout():
    rng = np.random.default_rng(0)
    B, T, N, I, O, washout = 2, 50, 6, 3, 2, 13
    states = rng.standard_normal((T, B, N))  # (T, B, N) as the loop writes them
    u, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, T, O))
    sums = ov._NormalEquations(N + I, O, washout, bias=True, with_input=True, rows=8 * B)
    for t0 in range(0, T, 8):  # chunks of 8: the washout ends inside the second chunk; the first is skipped whole
        sums.add(states[t0 : t0 + 8], u[:, t0 : t0 + 8], y[:, t0 : t0 + 8], t0)
    X = np.concatenate([states.transpose(1, 0, 2), u, np.ones((B, T, 1))], -1)[:, washout:].reshape(-1, N + I + 1)
    Y = y[:, washout:].reshape(-1, O)
    np.testing.assert_allclose(sums.A, X.T @ X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sums.rhs, X.T @ Y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "readout_input,feedback,bias", [(False, False, True), (True, True, True), (True, False, False)]
)
def test_fit_equals_ridge_solve_on_the_collected_states(readout_input, feedback, bias):
    cfg = ReservoirConfig(units=15, input_size=2, leak_rate=0.5, feedback_size=1 if feedback else 0, seed=3)
    res = Reservoir(cfg).double()
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 90, 2, generator=g, dtype=torch.float64)
    y = torch.randn(2, 90, 1, generator=g, dtype=torch.float64)
    x0 = torch.randn(2, 15, generator=g, dtype=torch.float64) * 0.1
    fb = y if feedback else None
    W, c = ov.overlapped_ridge_fit(res, u, y, 11, 1e-2, bias, readout_input, x0, fb, chunk=7)
    states, _ = res(u, state=x0, feedback=fb)  # (B, T, N)
    feats = torch.cat([states, u], -1) if readout_input else states
    W0, c0 = ridge_solve(feats[:, 11:].reshape(-1, feats.shape[-1]), y[:, 11:].reshape(-1, 1), 1e-2, bias)
    assert _rel(W, W0) < 1e-10
    if bias:
        assert _rel(c, c0) < 1e-10
    else:
        assert c is None and c0 is None


def test_esn_fit_overlapped_equals_plain_fit(monkeypatch):
    monkeypatch.setattr(ov, "_cores", lambda: 2)  # the decision, not the machine, is under test
    monkeypatch.setattr(ov, "MIN_FEATURES", 20)
    if ov._blas_controller() is None:
        pytest.skip("threadpoolctl is not installed: nothing is overlapped")
    x = torch.rand(1, 700, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # well conditioned
    cfg = ReservoirConfig(units=25, input_size=1, leak_rate=0.4, seed=0)
    calls = []
    real = esn_module.overlapped_ridge_fit
    monkeypatch.setattr(esn_module, "overlapped_ridge_fit", lambda *a, **k: calls.append(1) or real(*a, **k))
    on = ESN(cfg, 1, ridge=1e-2, washout=50, readout_input=True).double().fit(x[:, :-1], x[:, 1:])
    off = ESN(cfg, 1, ridge=1e-2, washout=50, readout_input=True, overlap=False).double().fit(x[:, :-1], x[:, 1:])
    assert calls == [1]  # 649 steps after the washout >= MIN_STEPS: overlapped; overlap=False: not
    both = [torch.cat([m.readout.weight[0], m.readout.bias]) for m in (on, off)]  # [W, c] (F+1,)
    assert _rel(*both) < 1e-10  # the Gram matrices differ only in the order of float64 sums


def test_when_it_is_used(monkeypatch):
    monkeypatch.setattr(ov, "_cores", lambda: 2)
    monkeypatch.setattr(ov, "MIN_FEATURES", 10)
    if ov._blas_controller() is None:
        pytest.skip("threadpoolctl is not installed")
    res = Reservoir(units=10, input_size=1)
    long, short = torch.randn(1, 600, 1), torch.randn(1, 600, 1)
    assert ov.can_overlap(res, long, washout=50)
    assert not ov.can_overlap(res, short, washout=600 - ov.MIN_STEPS + 1)  # too few steps after the washout
    assert not ov.can_overlap(res, long.requires_grad_(), washout=0)  # autograd: torch's loop
    assert not ov.can_overlap(res, torch.randn(1, 600, 1, dtype=torch.float64), washout=0)  # dtype mismatch
    monkeypatch.setattr(ov, "MIN_FEATURES", 11)
    assert not ov.can_overlap(res, torch.randn(1, 600, 1), washout=0)  # too few units: the Gram matrix is cheap
    monkeypatch.setattr(ov, "MIN_FEATURES", 10)
    monkeypatch.setattr(ov, "_cores", lambda: 1)
    assert not ov.can_overlap(res, torch.randn(1, 600, 1), washout=0)  # one core: nothing to overlap with


def test_singular_normal_equations_fall_back_to_least_squares(monkeypatch):
    monkeypatch.setattr(ov, "_cores", lambda: 2)
    monkeypatch.setattr(ov, "MIN_FEATURES", 10)
    cfg = ReservoirConfig(units=10, input_size=1, seed=0)
    u = torch.zeros(1, 600, 1, dtype=torch.float64)  # zero input: the states stay 0, the Gram matrix is singular
    y = torch.randn(1, 600, 1, dtype=torch.float64)
    res = Reservoir(cfg).double()
    assert ov.overlapped_ridge_fit(res, u, y, 0, 0.0) is None
    on = ESN(cfg, 1, ridge=0.0).double().fit(u, y)
    off = ESN(cfg, 1, ridge=0.0, overlap=False).double().fit(u, y)
    torch.testing.assert_close(on.readout.weight, off.readout.weight)
    torch.testing.assert_close(on.readout.bias, y.mean(1)[0])  # only the intercept can fit: the mean


def test_errors():
    res = Reservoir(units=5, input_size=1)
    with pytest.raises(ValueError, match="chunk"):
        ov.overlapped_ridge_fit(res, torch.randn(1, 20, 1), torch.randn(1, 20, 1), 0, 1e-3, chunk=0)
    with pytest.raises(ValueError, match="NaN"):
        ov.overlapped_ridge_fit(res, torch.full((1, 20, 1), float("nan")), torch.randn(1, 20, 1), 0, 1e-3)
