"""Generators: statistics, hand-computed steps, equality with reservoirpy's Mackey-Glass, seeding, errors."""

from __future__ import annotations

import numpy as np
import pytest

from unrolled.data.series import generate, lorenz, mackey_glass, narma, noisy_sines


def test_mackey_glass_range_and_seed():
    x = mackey_glass(3000, seed=3)
    assert x.shape == (3000,)
    assert 0.2 < x[500:].min() and x[500:].max() < 1.4  # the known range of the tau=17 attractor
    assert x[500:].std() > 0.15  # chaotic, not a fixed point
    np.testing.assert_array_equal(x, mackey_glass(3000, seed=3))
    assert not np.array_equal(x, mackey_glass(3000, seed=4))


def test_mackey_glass_equals_reservoirpy_given_history():
    datasets = pytest.importorskip("reservoirpy.datasets")
    history = 1.2 + 0.1 * np.sin(np.arange(17))
    ours = mackey_glass(400, history=history)
    theirs = datasets.mackey_glass(400, history=history).reshape(-1)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_mackey_glass_first_step_by_hand():
    history = np.full(17, 0.5)
    x = mackey_glass(2, history=history, x0=1.0)
    # x1 = x0 + (k1 + k2 + k3 + k4) / 6 with the delayed value 0.5
    k1 = -0.1 * 1.0 + 0.2 * 0.5 / (1 + 0.5**10)
    k2 = 2 * k1 - 0.1 * k1
    k3 = 2 * k1 - 0.1 * k2
    k4 = k1 - 0.1 * k3
    assert x[0] == 1.0
    assert x[1] == pytest.approx(1.0 + (k1 + k2 + k3 + k4) / 6, abs=1e-15)


def test_narma10_by_hand():
    u = np.linspace(0.0, 0.5, 14)
    _, y = narma(14, order=10, u=u)
    expect = np.zeros(14)
    for t in range(9, 13):
        expect[t + 1] = 0.3 * expect[t] + 0.05 * expect[t] * sum(expect[t - i] for i in range(10))
        expect[t + 1] += 1.5 * u[t - 9] * u[t] + 0.1
    np.testing.assert_allclose(y, expect, atol=1e-15)
    assert y[10] == pytest.approx(1.5 * u[0] * u[9] + 0.1)


def test_narma10_bounded_and_input_range():
    u, y = narma(2000, seed=0)
    assert 0 <= u.min() and u.max() <= 0.5
    assert np.isfinite(y).all() and 0 <= y.min() and y.max() < 1.5


def test_lorenz_attractor_and_rk4_step():
    s = lorenz(2000, seed=0)
    assert s.shape == (2000, 3)
    assert -25 < s[:, 0].min() < -10 and 10 < s[:, 0].max() < 25  # both wings visited
    assert 0 < s[:, 2].min() and s[:, 2].max() < 55
    one = lorenz(2, seed=0, warmup=0)
    rng = np.random.default_rng(0)
    s0 = np.ones(3) + 0.01 * rng.standard_normal(3)
    f = lambda v: np.array([10 * (v[1] - v[0]), v[0] * (28 - v[2]) - v[1], v[0] * v[1] - 8 / 3 * v[2]])  # noqa: E731
    k1 = f(s0)
    k2 = f(s0 + 0.005 * k1)
    k3 = f(s0 + 0.005 * k2)
    k4 = f(s0 + 0.01 * k3)
    np.testing.assert_allclose(one[1], s0 + 0.01 / 6 * (k1 + 2 * k2 + 2 * k3 + k4), atol=1e-14)


def test_noisy_sines_noise_level():
    clean = noisy_sines(5000, noise=0.0, seed=1)
    noisy = noisy_sines(5000, noise=0.3, seed=1)
    # the noise is drawn after the sines' parameters, so the clean parts are identical
    assert np.std(noisy - clean) == pytest.approx(0.3, rel=0.05)


def test_generate_columns_and_errors():
    assert sorted(generate("lorenz", 10)) == ["x", "y", "z"]
    with pytest.raises(ValueError, match="expected a generated series name"):
        generate("henon", 10)
    with pytest.raises(ValueError, match="n_steps"):
        mackey_glass(0)
    with pytest.raises(ValueError, match="history of at least"):
        mackey_glass(10, history=np.ones(3))
    with pytest.raises(ValueError, match="diverged"):
        narma(200, alpha=2.0, seed=0)
