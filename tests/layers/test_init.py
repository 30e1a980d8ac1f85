"""Initialisations by name do what they say."""

from __future__ import annotations

import math

import pytest
import torch

from unrolled.layers import Recurrent
from unrolled.layers.init import initialize


def test_identity_is_irnn():
    rnn = initialize(Recurrent("elman", 2, 5, nonlinearity="relu"), "identity")
    c = rnn.cells[0]
    assert torch.equal(c.weight_hh, torch.eye(5))
    assert torch.equal(c.bias_ih, torch.zeros(5)) and torch.equal(c.bias_hh, torch.zeros(5))
    with pytest.raises(ValueError, match="square recurrent matrix") as e:
        initialize(Recurrent("lstm", 2, 5), "identity")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("cell,blocks", [("lstm", 4), ("gru", 3), ("elman", 1), ("bn_lstm", 4)])
def test_orthogonal_per_gate_block(cell, blocks):
    rnn = initialize(Recurrent(cell, 3, 6), "orthogonal", generator=torch.Generator().manual_seed(0))
    w = rnn.cells[0].weight_hh.detach().double()
    parts = w.split(6, 0)
    assert len(parts) == blocks
    for block in parts:
        assert torch.allclose(block.T @ block, torch.eye(6, dtype=torch.float64), atol=1e-6)
    assert not torch.allclose(parts[0], parts[-1]) or blocks == 1


def test_orthogonal_selected_per_layer():
    rnn = Recurrent("gru", 3, 4, num_layers=2)
    before = rnn.cells[0].weight_hh.detach().clone()
    initialize(rnn, "orthogonal", layers=[1])
    assert torch.equal(rnn.cells[0].weight_hh, before)
    w = rnn.cells[1].weight_hh.detach()[:4]
    assert torch.allclose(w.T @ w, torch.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="layers"):
        initialize(rnn, "orthogonal", layers=[2])


def test_chrono_bias_range_lstm_and_gru():
    T = 50
    rnn = initialize(Recurrent("lstm", 2, 200), "chrono", t_max=T, generator=torch.Generator().manual_seed(0))
    c = rnn.cells[0]
    H = 200
    bf = c.bias_ih[H : 2 * H].detach()
    assert float(bf.min()) >= 0.0 and float(bf.max()) <= math.log(T - 1)
    assert float(bf.max()) > math.log(T - 1) - 0.3  # the range is really used
    assert torch.equal(c.bias_ih[:H], -bf)
    assert torch.equal(c.bias_hh[: 2 * H], torch.zeros(2 * H))
    g = initialize(Recurrent("gru", 2, 8), "chrono:20").cells[0]
    bz = g.bias_ih[8:16].detach()
    assert float(bz.min()) >= 0 and float(bz.max()) <= math.log(19) and torch.all(g.bias_hh[8:16] == 0)
    ln = initialize(Recurrent("ln_lstm", 2, 8), "chrono:20").cells[0]
    assert torch.equal(ln.ln_ih.bias[:8], -ln.ln_ih.bias[8:16])
    with pytest.raises(ValueError, match="t_max"):
        initialize(Recurrent("lstm", 2, 4), "chrono")
    with pytest.raises(ValueError, match="LSTM or GRU"):
        initialize(Recurrent("elman", 2, 4), "chrono:10")


def test_uniform_every_parameter_and_default():
    model = torch.nn.Sequential(torch.nn.Embedding(10, 3))
    model.append(Recurrent("lstm", 3, 4))
    initialize(model, "uniform:0.1", generator=torch.Generator().manual_seed(0))
    for p in model.parameters():
        assert float(p.detach().abs().max()) <= 0.1 and float(p.detach().abs().max()) > 0.05
    rnn = initialize(Recurrent("lstm", 3, 4), "default")
    assert torch.all(rnn.cells[0].bias_ih[4:8] == 1.0)


def test_bad_names():
    for bad, msg in (("nope", "unknown initialisation"), ("uniform:x", "a number"), ("default:1", "no argument")):
        with pytest.raises(ValueError, match=msg):
            initialize(Recurrent("lstm", 2, 3), bad)
    with pytest.raises(ValueError, match="a > 0"):
        initialize(Recurrent("lstm", 2, 3), "uniform:-1")
