"""Imputer: observed values kept, hidden points never seen, loss at hidden points only, beats linear interpolation
on a smooth signal's long gaps, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.data.gaps import linear_interpolate
from unrolled.models.imputer import ImputerConfig, RNNImputer


def _imp(**kw):
    torch.manual_seed(0)
    return RNNImputer(ImputerConfig(**{"hidden_size": 8, **kw})).double()


def test_observed_kept_and_missing_values_never_read():
    imp = _imp(input_size=2)
    x = torch.randn(2, 12, 2, dtype=torch.float64)
    x[0, 3:6, 0] = float("nan")
    out = imp.impute(x)
    obs = ~x.isnan()
    assert torch.equal(out[obs], x[obs]) and not out.isnan().any()
    # what sits under a hidden point cannot change the reconstruction
    hidden = torch.zeros_like(obs)
    hidden[1, 4, 1] = True
    y = x.clone()
    y[1, 4, 1] = 1e3
    torch.testing.assert_close(imp(x, obs & ~hidden), imp(y, obs & ~hidden))


def test_loss_is_mse_at_hidden_points_only():
    imp = _imp()
    x = torch.randn(1, 10, 1, dtype=torch.float64)
    hidden = torch.zeros(1, 10, 1, dtype=torch.bool)
    hidden[0, [2, 7]] = True
    recon = imp(x, ~hidden)
    expect = ((recon[0, [2, 7], 0] - x[0, [2, 7], 0]) ** 2).mean()
    torch.testing.assert_close(imp.loss(x, hidden=hidden), expect)


def test_hide_rate_and_runs():
    imp = _imp(mask_rate=0.3, max_gap=4)
    g = torch.Generator().manual_seed(0)
    obs = torch.ones(50, 100, 1, dtype=torch.bool)
    obs[:, ::10] = False
    h = imp.hide(obs, g)
    assert not (h & ~obs).any()
    assert 0.2 < float(h.double().mean()) < 0.4


def test_learns_to_fill_long_gaps_better_than_linear_interpolation():
    imp = _imp(hidden_size=16, max_gap=8, mask_rate=0.3, cell="elman")
    g = torch.Generator().manual_seed(1)
    t = torch.arange(40, dtype=torch.float64)
    phase = torch.rand(16, 1, generator=g, dtype=torch.float64) * 6.28
    x = torch.sin(t / 3 + phase).unsqueeze(-1)  # (16, 40, 1)
    opt = torch.optim.Adam(imp.parameters(), lr=0.03)
    for _ in range(50):
        opt.zero_grad()
        imp.loss(x, generator=g).backward()
        opt.step()
    test = torch.sin(t / 3 + 1.0).reshape(1, 40, 1)
    gappy = test.clone()
    gappy[0, 15:23] = float("nan")
    ours = float(((imp.impute(gappy) - test)[0, 15:23] ** 2).mean())
    lin = linear_interpolate(gappy[0, :, 0].numpy())
    theirs = float(((lin[15:23] - test[0, 15:23, 0].numpy()) ** 2).mean())
    assert ours < 0.5 * theirs


def test_errors():
    imp = _imp()
    with pytest.raises(ValueError, match=r"expected a series \(B, T, D=1\)"):
        imp.impute(torch.randn(3, 4))
    with pytest.raises(ValueError, match="no observed value"):
        imp.impute(torch.full((1, 5, 1), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="infinite"):
        imp.impute(torch.tensor([[[np.inf]]], dtype=torch.float64))
    with pytest.raises(ValueError, match="mask_rate"):
        ImputerConfig(mask_rate=1.0)
