"""The numpy reservoir loop equals the equations by hand and the torch path (taken when the input needs gradients),
for one and many sequences, per-unit and unit leak rates, float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.reservoir.cpu_loop import leaky_tanh_loop
from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig


@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("unit_leak", [False, True])
def test_loop_equals_the_equations(B, unit_leak):
    rng = np.random.default_rng(0)
    T, N = 6, 5
    drive = rng.standard_normal((T, B, N))
    W = rng.standard_normal((N, N)) * 0.4
    a = np.ones(N) if unit_leak else rng.uniform(0.1, 1.0, N)
    x0 = rng.standard_normal((B, N))
    kept = x0.copy()
    out = leaky_tanh_loop(drive, W, a, x0)
    np.testing.assert_array_equal(x0, kept)  # the initial state is read, never written
    x = x0.copy()
    for t in range(T):
        x = (1 - a) * x + a * np.tanh(x @ W.T + drive[t])
        np.testing.assert_allclose(out[t], x, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("leak", [0.3, 1.0])
def test_fast_path_equals_torch_path(dtype, leak):
    cfg = ReservoirConfig(units=40, input_size=2, leak_rate=leak, bias_scaling=0.2, feedback_size=1, seed=2)
    res = Reservoir(cfg).to(dtype)
    u = torch.randn(4, 25, 2, dtype=dtype)
    fb = torch.randn(4, 25, 1, dtype=dtype)
    s0 = torch.randn(4, 40, dtype=dtype)
    assert res._fast(4, u, s0, fb) and not res._fast(4, u.requires_grad_(False).clone().requires_grad_())
    assert not Reservoir(ReservoirConfig(units=600))._fast(4) and Reservoir(ReservoirConfig(units=600))._fast(1)
    fast, last = res(u, state=s0, feedback=fb, feedback0=fb[:, 0])
    slow, slow_last = res(u.clone().requires_grad_(), state=s0, feedback=fb, feedback0=fb[:, 0])  # the torch loop
    assert slow.requires_grad and fast.dtype == dtype and fast.is_contiguous()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(fast, slow.detach(), rtol=tol, atol=tol)
    torch.testing.assert_close(last, slow_last.detach(), rtol=tol, atol=tol)
    one, _ = res(u[2:3], state=s0[2:3], feedback=fb[2:3], feedback0=fb[2:3, 0])  # B = 1: the gemv branch
    torch.testing.assert_close(one[0], fast[2], rtol=tol, atol=tol)
