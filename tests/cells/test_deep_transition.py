"""Deep-transition cell: hand computation, Elman at one layer, gradcheck, and under Recurrent with lengths."""

import pytest
import torch
from _cell_testkit import TIGHT, rand, randomize

from unrolled.cells import DeepTransitionCell, ElmanCell, make_cell
from unrolled.layers.recurrent import Recurrent


def test_step_equals_hand_computation():
    cell = randomize(DeepTransitionCell(3, 4, transition_layers=3).double(), seed=1)
    x, h = rand(2, 2, 3), rand(3, 2, 4)
    z = torch.tanh(x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh + h @ cell.weight_hh.T)
    for lin in cell.transition:
        z = torch.tanh(z @ lin.weight.T + lin.bias)
    y, h2 = cell(x, h)
    torch.testing.assert_close(y, z, **TIGHT)
    torch.testing.assert_close(h2, z, **TIGHT)


def test_one_transition_layer_is_elman():
    dt = randomize(DeepTransitionCell(3, 4, transition_layers=1).double(), seed=2)
    el = ElmanCell(3, 4).double()
    el.load_state_dict({k: v for k, v in dt.state_dict().items()})
    x, h = rand(4, 5, 3), rand(5, 5, 4)
    torch.testing.assert_close(dt(x, h)[0], el(x, h)[0], **TIGHT)


def test_gradcheck_float64():
    cell = randomize(DeepTransitionCell(3, 4, transition_layers=2, nonlinearity="sigmoid").double(), seed=3)
    x = rand(6, 2, 3).requires_grad_()
    h = rand(7, 2, 4).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: cell(a, b)[0], (x, h))


def test_registry_and_padded_equals_unpadded():
    torch.manual_seed(0)
    rnn = Recurrent("deep_transition", 3, 5, transition_layers=2).double()
    x = rand(8, 3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    y, (h,) = rnn(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        yb, (hb,) = rnn(x[b : b + 1, :n])
        torch.testing.assert_close(y[b, :n], yb[0], **TIGHT)
        torch.testing.assert_close(h[b], hb[0], **TIGHT)
        assert torch.all(y[b, n:] == 0)
    assert isinstance(make_cell("deep_transition", 2, 3), DeepTransitionCell)


def test_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match="transition_layers must be a positive integer, got 0"):
        DeepTransitionCell(3, 4, transition_layers=0)
    with pytest.raises(ValueError, match="unknown nonlinearity 'cos'"):
        DeepTransitionCell(3, 4, nonlinearity="cos")
