"""ESN classification: separable classes learnt, padding ignored, pooling by hand, errors."""

from __future__ import annotations

import pytest
import torch

from unrolled.reservoir.classify import ESNClassifier
from unrolled.reservoir.reservoir import ReservoirConfig


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    t = torch.arange(40, dtype=torch.float64)
    freq = torch.tensor([0.2, 0.5, 1.0], dtype=torch.float64)[labels]
    x = torch.sin(freq[:, None] * t[None, :]) + 0.1 * torch.randn(n, 40, generator=g, dtype=torch.float64)
    return x.unsqueeze(-1), labels


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_learns_frequencies(pooling):
    clf = ESNClassifier(ReservoirConfig(units=60, input_size=1, seed=0), 3, pooling=pooling, ridge=1e-3).double()
    x, y = _data(60, 0)
    clf.fit(x, y)
    xt, yt = _data(30, 1)
    assert float((clf.predict(xt) == yt).double().mean()) >= 0.9


def test_padding_is_ignored_and_pooling_by_hand():
    clf = ESNClassifier(ReservoirConfig(units=8, input_size=1, seed=0), 2, pooling="mean").double()
    x = torch.randn(2, 6, 1, dtype=torch.float64)
    padded = x.clone()
    padded[0, 4:] = float("nan")
    lengths = torch.tensor([4, 6])
    feats = clf.features(padded, lengths)
    states, _ = clf.reservoir(x[:1, :4])
    torch.testing.assert_close(feats[0], states[0].mean(0))
    clf_last = ESNClassifier(ReservoirConfig(units=8, input_size=1, seed=0), 2, pooling="last").double()
    torch.testing.assert_close(clf_last.features(padded, lengths)[0], states[0, -1])


def test_errors():
    with pytest.raises(ValueError, match="pooling"):
        ESNClassifier(ReservoirConfig(), 2, pooling="max")
    clf = ESNClassifier(ReservoirConfig(units=5, input_size=1), 2)
    with pytest.raises(ValueError, match="labels in"):
        clf.fit(torch.randn(3, 4, 1), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="lengths"):
        clf.features(torch.randn(2, 4, 1), torch.tensor([5, 1]))
