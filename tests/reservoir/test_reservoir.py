"""Reservoir: spectral radius, batched recurrence equals a per-sequence loop and the equations by hand, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig, spectral_radius


@pytest.mark.parametrize("radius", [0.5, 0.9, 1.25])
def test_generated_matrix_has_requested_radius(radius):
    res = Reservoir(ReservoirConfig(units=80, spectral_radius=radius, density=0.2, seed=1))
    W = res.weight_hh.double().numpy()
    assert np.abs(np.linalg.eigvals(W)).max() == pytest.approx(radius, rel=1e-5)
    assert spectral_radius(res.weight_hh) == pytest.approx(radius, rel=1e-5)
    density = (W != 0).mean()
    assert 0.15 < density < 0.25


def test_batched_equals_per_sequence_loop_and_hand_update():
    torch.manual_seed(0)
    leak = torch.linspace(0.1, 1.0, 12).tolist()
    cfg = ReservoirConfig(
        units=12, input_size=3, leak_rate=leak, bias_scaling=0.5, feedback_size=2, input_scaling=[0.5, 1, 2], seed=3
    )
    res = Reservoir(cfg).double()
    u = torch.randn(5, 7, 3, dtype=torch.float64)
    fb = torch.randn(5, 7, 2, dtype=torch.float64)
    states, last = res(u, feedback=fb)
    a = torch.tensor(leak, dtype=torch.float64)
    for b in range(5):  # the equations, one sequence, one step at a time
        x = torch.zeros(12, dtype=torch.float64)
        for t in range(7):
            y_prev = fb[b, t - 1] if t > 0 else torch.zeros(2, dtype=torch.float64)
            pre = res.weight_ih @ u[b, t] + res.weight_hh @ x + res.weight_fb @ y_prev + res.bias
            x = (1 - a) * x + a * torch.tanh(pre)
            torch.testing.assert_close(states[b, t], x, rtol=1e-12, atol=1e-12)
        single, _ = res(u[b : b + 1], feedback=fb[b : b + 1])
        torch.testing.assert_close(single[0], states[b], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(last, states[:, -1])


def test_carried_state_continues_the_stream():
    res = Reservoir(ReservoirConfig(units=20, input_size=1, seed=0)).double()
    u = torch.randn(2, 30, 1, dtype=torch.float64)
    whole, _ = res(u)
    first, s = res(u[:, :12])
    second, _ = res(u[:, 12:], state=s)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)


def test_same_seed_same_weights_and_scaling():
    a = Reservoir(ReservoirConfig(units=30, input_size=2, seed=5, input_scaling=0.1))
    b = Reservoir(ReservoirConfig(units=30, input_size=2, seed=5, input_scaling=0.1))
    assert torch.equal(a.weight_hh, b.weight_hh) and torch.equal(a.weight_ih, b.weight_ih)
    assert a.weight_ih.abs().max() <= 0.1
    c = Reservoir(ReservoirConfig(units=30, input_size=2, seed=6))
    assert not torch.equal(a.weight_hh, c.weight_hh)


def test_errors_are_one_line():
    with pytest.raises(ValueError, match="expected leak_rate"):
        ReservoirConfig(leak_rate=0.0)
    with pytest.raises(ValueError, match="expected leak_rate .* 5 of them"):
        ReservoirConfig(units=5, leak_rate=[0.5, 0.5])
    with pytest.raises(ValueError, match="expected density"):
        ReservoirConfig(density=1.5)
    with pytest.raises(ValueError, match="expected units"):
        ReservoirConfig(units=0)
    res = Reservoir(ReservoirConfig(units=10, input_size=2))
    with pytest.raises(ValueError, match=r"expected input \(B, T, I=2\)"):
        res(torch.randn(3, 4, 1))
    x = torch.randn(1, 5, 2)
    x[0, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        res(x)
    with pytest.raises(ValueError, match="feedback_size=0"):
        res(torch.randn(1, 5, 2), feedback=torch.randn(1, 5, 1))
