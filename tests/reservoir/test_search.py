"""ESN hyperparameter search: grid covers every combination, best first, pool equals serial, bad method."""

from __future__ import annotations

import pytest
import torch

from unrolled.data.series import mackey_glass
from unrolled.reservoir.reservoir import ReservoirConfig
from unrolled.reservoir.search import SearchSpace, evaluate_trial, search


def _data():
    x = torch.tensor(mackey_glass(500, seed=0), dtype=torch.float64).reshape(1, -1, 1)
    return x[:, :299], x[:, 1:300], x[:, 299:-1], x[:, 300:]


def test_grid_search_sorted_and_matches_direct_evaluation():
    torch.set_default_dtype(torch.float64)
    try:
        space = SearchSpace(spectral_radius=(0.5, 1.2), leak_rate=(0.3,), input_scaling=(1.0,), ridge=(1e-8, 1.0))
        base = ReservoirConfig(units=30, input_size=1, seed=0)
        trials = search(base, _data(), space, method="grid", washout=50, workers=1)
        assert len(trials) == 4 and len({tuple(t.params.values()) for t in trials}) == 4
        assert [t.nrmse for t in trials] == sorted(t.nrmse for t in trials)
        best = trials[0]
        assert best.nrmse == evaluate_trial(base, best.params, _data(), 50).nrmse
        assert best.params["ridge"] == 1e-8  # heavy ridge is worse on this noiseless series
        pooled = search(base, _data(), space, method="grid", washout=50, workers=2)
        assert [t.nrmse for t in pooled] == pytest.approx([t.nrmse for t in trials], rel=1e-9)
    finally:
        torch.set_default_dtype(torch.float32)


def test_random_search_is_seeded_and_errors():
    space = SearchSpace()
    assert space.sample(5, seed=1) == space.sample(5, seed=1)
    with pytest.raises(ValueError, match="method"):
        search(ReservoirConfig(units=5), _data(), method="bayes")
    with pytest.raises(ValueError, match="at least one value"):
        SearchSpace(ridge=())
