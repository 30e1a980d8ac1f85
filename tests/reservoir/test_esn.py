"""ESN: teacher-forced fit equals ridge on collected states, forecasting quality, generation, FORCE, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.data.series import mackey_glass
from unrolled.reservoir.esn import ESN
from unrolled.reservoir.readout import ridge_solve
from unrolled.reservoir.reservoir import ReservoirConfig


def _mg(n=1200):
    x = torch.tensor(mackey_glass(n, seed=0)).reshape(1, -1, 1)
    return (x - x.mean()) / x.std()


def test_fit_is_ridge_on_states_after_washout():
    cfg = ReservoirConfig(units=30, input_size=1, seed=0)
    esn = ESN(cfg, 1, ridge=1e-4, washout=25, readout_input=True).double()
    x = _mg(300)
    esn.fit(x[:, :-1], x[:, 1:])
    states, _ = esn.reservoir(x[:, :-1])
    feats = torch.cat([states, x[:, :-1]], -1)[:, 25:]
    W, c = ridge_solve(feats.reshape(-1, 31), x[:, 26:].reshape(-1, 1), 1e-4)
    torch.testing.assert_close(esn.readout.weight, W)
    torch.testing.assert_close(esn.readout.bias, c)


def test_mackey_glass_one_step_nrmse_is_small_and_generation_tracks():
    cfg = ReservoirConfig(units=200, input_size=1, spectral_radius=1.25, leak_rate=0.3, input_scaling=0.3, seed=0)
    esn = ESN(cfg, 1, ridge=1e-6, washout=100).double()
    x = _mg()
    esn.fit(x[:, :799], x[:, 1:800])
    pred, _ = esn(x[:, :-1])
    nrmse = float((pred[:, 800:] - x[:, 801:]).pow(2).mean().sqrt() / x[:, 801:].std())
    assert nrmse < 1e-2
    gen = esn.generate(x[:, :800], 30)
    assert gen.shape == (1, 30, 1)
    assert float((gen - x[:, 800:830]).abs().max()) < 0.05  # free-running stays on the true path for 30 steps
    # a wrong model (untrained readout) does not
    esn.readout.weight.zero_()
    assert float((esn.generate(x[:, :800], 30) - x[:, 800:830]).abs().max()) > 0.1


def test_feedback_forward_uses_own_predictions_and_force_learns():
    cfg = ReservoirConfig(units=100, input_size=1, feedback_size=1, feedback_scaling=0.5, spectral_radius=0.9, seed=1)
    t = torch.arange(600, dtype=torch.float64).reshape(1, -1, 1)
    u = torch.zeros_like(t)  # no input: the network must generate the sine from its own feedback
    y = torch.sin(t / 10)
    esn = ESN(cfg, 1, ridge=1e-8, washout=100).double()
    esn.fit(u, y)
    teacher, _ = esn(u, feedback=y)
    assert float((teacher - y)[:, 100:].abs().max()) < 1e-3
    _, state = esn(u[:, :300], feedback=y[:, :300])  # teacher-forced up to t = 299, then on its own outputs
    free, _ = esn(u[:, 300:], state=state, feedback0=y[:, 299])
    assert float((free - y[:, 300:]).abs()[:, :100].max()) < 0.1
    cold, _ = esn(u[:, 300:])  # from a zero state and output it is not on the sine
    assert float((cold - y[:, 300:]).abs()[:, :100].max()) > 0.5
    force = ESN(cfg, 1, washout=50).double().fit_force(u, y, alpha=1.0)
    pred, _ = force(u, feedback=y)
    assert float((pred - y)[:, 300:].pow(2).mean().sqrt()) < 0.15  # the sine itself has RMS 0.71


def test_batch_of_series_fits_like_concatenated_samples():
    cfg = ReservoirConfig(units=20, input_size=1, seed=0)
    x = torch.tensor(np.sin(np.arange(200) / 5.0)).reshape(2, 100, 1)
    esn = ESN(cfg, 1, ridge=1e-6, washout=10).double().fit(x[:, :-1], x[:, 1:])
    states, _ = esn.reservoir(x[:, :-1])
    W, _ = ridge_solve(states[:, 10:].reshape(-1, 20), x[:, 11:].reshape(-1, 1), 1e-6)
    torch.testing.assert_close(esn.readout.weight, W)


def test_errors():
    cfg = ReservoirConfig(units=10, input_size=1)
    esn = ESN(cfg, 1, washout=5)
    with pytest.raises(ValueError, match="longer than washout"):
        esn.fit(torch.randn(1, 5, 1), torch.randn(1, 5, 1))
    with pytest.raises(ValueError, match="targets"):
        esn.fit(torch.randn(1, 9, 1), torch.randn(1, 8, 1))
    y = torch.randn(1, 9, 1)
    y[0, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        esn.fit(torch.randn(1, 9, 1), y)
    with pytest.raises(ValueError, match="feedback_size"):
        ESN(ReservoirConfig(feedback_size=2), 1)
    with pytest.raises(ValueError, match="output_size == input_size"):
        ESN(ReservoirConfig(input_size=2), 1).generate(torch.randn(1, 5, 2), 3)
