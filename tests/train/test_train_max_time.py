"""``max_time``: training stops on a wall-clock budget, is checkpointed, validated once more, and resumes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unrolled.train import TrainConfig, Trainer
from unrolled.train.objective import StepResult


def _objective(model, batch, state):
    x, y = batch
    return StepResult(F.mse_loss(model(x), y), count=len(x))


def _data(n=8):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g)) for _ in range(n)]


def test_max_time_stops_checkpoints_and_validates_the_last_step(tmp_path, monkeypatch):
    clock = iter(range(0, 10_000))  # every perf_counter() call advances one "second"
    monkeypatch.setattr("unrolled.train.trainer.time.perf_counter", lambda: float(next(clock)))
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    cfg = TrainConfig(epochs=50, lr=0.01, max_time=30.0, progress=False, plot=False)
    result = Trainer(model, _objective, cfg, run_dir=tmp_path).fit(_data(), _data(2))
    assert result.stopped == "max_time"
    assert 0 < result.steps < 50 * 8
    assert (tmp_path / "checkpoint").is_dir()
    # the extra validation pass scored the weights of the last step
    valid = Trainer(model, _objective, cfg).evaluate(_data(2))
    assert (tmp_path / "best" / "meta.json").is_file()
    assert result.best_valid is None or result.best_valid <= valid + 1e-12


def test_max_time_must_be_positive():
    with pytest.raises(ValueError, match="max_time"):
        TrainConfig(max_time=0)


def test_max_time_is_a_budget_per_session(tmp_path, monkeypatch):
    clock = iter(range(0, 100_000))  # every perf_counter() call advances one "second"
    monkeypatch.setattr("unrolled.train.trainer.time.perf_counter", lambda: float(next(clock)))
    cfg = TrainConfig(epochs=500, lr=0.01, max_time=30.0, progress=False, plot=False)
    torch.manual_seed(0)
    first = Trainer(nn.Linear(3, 1), _objective, cfg, run_dir=tmp_path).fit(_data(), _data(2))
    torch.manual_seed(0)
    second = Trainer(nn.Linear(3, 1), _objective, cfg, run_dir=tmp_path).fit(_data(), _data(2), resume=True)
    assert first.stopped == second.stopped == "max_time"
    gained = second.steps - first.steps
    assert 0.5 * first.steps <= gained <= 2 * first.steps  # another session of the same budget, not zero
