"""BN-LSTM: the equations, gradcheck, population statistics in evaluation, and Recurrent."""

from __future__ import annotations

import pytest
import torch

from unrolled.cells import BatchNormLSTMCell
from unrolled.layers import Recurrent


def _bn(a, w, b=None):
    out = (a - a.mean(0)) / torch.sqrt(a.var(0, unbiased=False) + 1e-5) * w
    return out if b is None else out + b


def test_training_step_matches_equations_and_updates_step_statistics():
    torch.manual_seed(0)
    cell = BatchNormLSTMCell(3, 4, max_length=3).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    h, c = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    t = torch.full((5, 1), 1.0, dtype=torch.float64)
    y, (h2, c2, t2) = cell(x, (h, c, t))
    gates = _bn(h @ cell.weight_hh.T, cell.bn_hh_weight) + _bn(x @ cell.weight_ih.T, cell.bn_ih_weight) + cell.bias
    i, f, g, o = gates.chunk(4, 1)
    c_want = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_want = torch.sigmoid(o) * torch.tanh(_bn(c_want, cell.bn_c_weight, cell.bn_c_bias))
    assert torch.allclose(c2, c_want) and torch.allclose(h2, h_want) and torch.equal(t2, t + 1)
    assert torch.allclose(cell.bn_ih_weight, torch.full((16,), 0.1, dtype=torch.float64))
    mean = (x @ cell.weight_ih.T).mean(0)
    assert torch.allclose(cell.running_mean_ih[1], 0.1 * mean.detach())  # step 1's statistics only
    assert torch.all(cell.running_mean_ih[0] == 0) and torch.all(cell.running_mean_ih[2] == 0)


def test_gradcheck_float64():
    torch.manual_seed(0)
    cell = BatchNormLSTMCell(2, 3).double()
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.zeros(4, 1, dtype=torch.float64)

    def f(x, h, c, *params):
        y, (h2, c2, _) = torch.func.functional_call(
            cell, dict(zip([n for n, _ in cell.named_parameters()], params)), (x, (h, c, t))
        )
        return h2, c2

    params = [p.detach().clone().requires_grad_(True) for p in cell.parameters()]
    assert torch.autograd.gradcheck(f, (x, h, c, *params))


def test_eval_uses_population_statistics_per_step_shared_past_t_max():
    torch.manual_seed(0)
    cell = BatchNormLSTMCell(2, 3, max_length=2)
    with torch.no_grad():
        cell.running_mean_ih[1].fill_(0.5)
        cell.running_var_ih[1].fill_(4.0)
    cell.eval()
    x = torch.randn(2, 2)
    h, c = torch.zeros(2, 3), torch.zeros(2, 3)
    out = []
    for step in (1.0, 7.0):  # step 7 is past T_max = 2: it uses step 1's statistics
        _, (h2, c2, _) = cell(x, (h, c, torch.full((2, 1), step)))
        out.append(c2)
    assert torch.equal(out[0], out[1])
    gates = (x @ cell.weight_ih.T - 0.5) / torch.sqrt(torch.tensor(4.0 + 1e-5)) * 0.1 + cell.bias
    i, f, g, o = gates.chunk(4, 1)  # h = 0: the recurrent BN of 0 with mean 0, var 1 is 0
    assert torch.allclose(out[0], torch.sigmoid(i) * torch.tanh(g), atol=1e-6)
    # evaluation does not depend on the batch: one sequence alone gives the same output
    _, (_, c_one, _) = cell(x[:1], (h[:1], c[:1], torch.full((1, 1), 1.0)))
    assert torch.allclose(c_one, out[0][:1])


def test_works_under_recurrent_with_lengths_and_carried_state():
    torch.manual_seed(0)
    rnn = Recurrent("bn_lstm", 3, 4, max_length=10)
    x = torch.randn(3, 6, 3)
    y, state = rnn(x, lengths=torch.tensor([6, 4, 2]))
    assert state[0][2].squeeze(1).tolist() == [6.0, 4.0, 2.0]  # each sequence's own step count
    assert torch.all(y[1, 4:] == 0)
    rnn.eval()
    y_full, _ = rnn(x)
    y_a, s = rnn(x[:, :3])
    y_b, _ = rnn(x[:, 3:], s)  # the carried count selects steps 3..5's statistics
    assert torch.allclose(torch.cat([y_a, y_b], 1), y_full, atol=1e-6)
    with pytest.raises(ValueError, match="B >= 2"):
        BatchNormLSTMCell(2, 3)(torch.randn(1, 2))
