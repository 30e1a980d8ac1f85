"""Forecaster: recursive forecast equals a hand loop, teacher forcing equals the first forecast step, Gaussian NLL
by hand, intervals, learning a sine, errors."""

from __future__ import annotations

import math

import pytest
import torch

from unrolled.models.forecaster import Forecaster, ForecasterConfig


def _model(**kw):
    torch.manual_seed(0)
    return Forecaster(ForecasterConfig(**{"hidden_size": 8, **kw})).double()


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_recursive_forecast_is_the_hand_loop(cell):
    f = _model(cell=cell, input_size=2, output_size=2)
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    got = f.forecast(x, horizon=4).mean
    seq = x
    for k in range(4):  # rerun the whole sequence with the predictions appended: same recurrence, no state reuse
        out, _ = f.encoder(seq)
        nxt = f.head(out[:, -1:])
        torch.testing.assert_close(got[:, k : k + 1], nxt)
        seq = torch.cat([seq, nxt], dim=1)


def test_teacher_forced_step_matches_forecast_and_gaussian_nll():
    f = _model(gaussian=True, horizon=3)
    x, y = torch.randn(4, 5, 1, dtype=torch.float64), torch.randn(4, 3, 1, dtype=torch.float64)
    tf = f(x, y)
    fc = f.forecast(x, horizon=3)
    torch.testing.assert_close(tf.mean[:, 0], fc.mean[:, 0])
    torch.testing.assert_close(tf.log_var[:, 0], fc.log_var[:, 0])
    # when the fed-back mean equals the truth, teacher forcing and forecasting agree on the next step too
    y2 = y.clone()
    y2[:, 0] = fc.mean[:, 0]
    torch.testing.assert_close(f(x, y2).mean[:, 1], fc.mean[:, 1])
    nll = 0.5 * (math.log(2 * math.pi) + tf.log_var + (y - tf.mean) ** 2 / tf.log_var.exp())
    torch.testing.assert_close(f.loss(x, y), nll.mean())
    lo, hi = Forecaster.interval(fc, 0.95)
    torch.testing.assert_close((hi - fc.mean) / fc.std(), torch.full_like(hi, 1.959963984540054))
    assert (lo < fc.mean).all()


def test_direct_uses_future_covariates_and_mse():
    f = _model(strategy="direct", horizon=3, input_size=2, output_size=1, future_size=1)
    x, y = torch.randn(2, 5, 2, dtype=torch.float64), torch.randn(2, 3, 1, dtype=torch.float64)
    fut = torch.randn(2, 3, 1, dtype=torch.float64)
    a = f.forecast(x, future=fut).mean
    assert not torch.allclose(a, f.forecast(x, future=fut + 1).mean)
    torch.testing.assert_close(f.loss(x, y, fut), ((a - y) ** 2).mean())


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_learns_a_sine_better_than_persistence(strategy):
    f = _model(strategy=strategy, horizon=5, hidden_size=16)
    t = torch.arange(400, dtype=torch.float64)
    s = torch.sin(t / 4)
    idx = torch.arange(0, 370, 8)
    x = torch.stack([s[i + 8 : i + 20] for i in idx]).unsqueeze(-1)
    y = torch.stack([s[i + 20 : i + 25] for i in idx]).unsqueeze(-1)
    opt = torch.optim.Adam(f.parameters(), lr=0.03)
    for _ in range(60):
        opt.zero_grad()
        f.loss(x, y).backward()
        opt.step()
    pred = f.forecast(x, horizon=5).mean
    mse = float(((pred - y) ** 2).mean())
    persistence = float(((x[:, -1:] - y) ** 2).mean())
    assert mse < 0.1 * persistence


def test_errors():
    with pytest.raises(ValueError, match="input_size == output_size"):
        ForecasterConfig(input_size=2, output_size=1)
    with pytest.raises(ValueError, match="strategy"):
        ForecasterConfig(strategy="dirrect")
    with pytest.raises(ValueError, match="need strategy=direct"):
        ForecasterConfig(future_size=1)
    f = _model()
    x = torch.randn(1, 4, 1, dtype=torch.float64)
    x[0, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        f.forecast(x)
    with pytest.raises(ValueError, match="input"):
        f.forecast(torch.randn(1, 4, 3, dtype=torch.float64))
    d = _model(strategy="direct", horizon=2)
    with pytest.raises(ValueError, match="exactly horizon=2"):
        d.forecast(torch.randn(1, 4, 1, dtype=torch.float64), horizon=3)
    with pytest.raises(ValueError, match="gaussian head"):
        Forecaster.interval(f.forecast(torch.randn(1, 4, 1, dtype=torch.float64)))
