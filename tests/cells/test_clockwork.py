"""Clockwork cell: modules update only on their periods, block-triangular recurrence, gradcheck, lengths."""

import pytest
import torch
from _cell_testkit import TIGHT, rand, randomize

from unrolled.cells import ClockworkCell, make_cell
from unrolled.layers.recurrent import Recurrent


def _cell(seed=0, **kw):
    return randomize(ClockworkCell(2, 6, periods=(1, 2, 3), **kw).double(), seed=seed)


def test_modules_update_only_on_their_periods():
    cell = _cell()
    x = rand(1, 12, 4, 2)  # (T, B, I)
    state = cell.init_state(4)
    prev = state[0]
    for t in range(12):
        y, state = cell(x[t], state)
        changed = (y != prev).all(dim=0)  # (H,)
        want = torch.tensor([t % 1 == 0] * 2 + [t % 2 == 0] * 2 + [t % 3 == 0] * 2)
        assert torch.equal(changed, want), t
        assert torch.all(state[1] == t + 1)
        prev = y


def test_step_equals_hand_computation():
    cell = _cell(seed=1)
    x, h = rand(2, 3, 2), rand(3, 3, 6)
    t = torch.full((3, 1), 4.0, dtype=torch.float64)  # 4 mod 1 = 0, 4 mod 2 = 0, 4 mod 3 = 1
    W = cell.weight_hh.detach().clone()
    W[2:4, 0:2] = 0  # period-2 module does not read the period-1 module
    W[4:6, 0:4] = 0  # period-3 module reads only itself
    new = torch.tanh(x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh + h @ W.T)
    want = torch.cat([new[:, :4], h[:, 4:]], dim=1)
    y, (h2, t2) = cell(x, (h, t))
    torch.testing.assert_close(y, want, **TIGHT)
    torch.testing.assert_close(t2, t + 1, **TIGHT)


def test_slow_modules_never_read_fast_ones():
    cell = _cell(seed=2)
    x, h = rand(4, 2, 2), rand(5, 2, 6).requires_grad_()
    y, _ = cell(x, (h, torch.zeros(2, 1, dtype=torch.float64)))
    (g,) = torch.autograd.grad(y[:, 4:].sum(), h)
    assert torch.all(g[:, :4] == 0) and torch.all(g[:, 4:] != 0)


def test_gradcheck_float64():
    cell = _cell(seed=3)
    x = rand(6, 2, 2).requires_grad_()
    h = rand(7, 2, 6).requires_grad_()
    t = torch.zeros(2, 1, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: cell(a, (b, t))[0], (x, h))


def test_padded_equals_unpadded_under_recurrent():
    torch.manual_seed(0)
    rnn = Recurrent("clockwork", 2, 6, periods=(1, 2, 3), bidirectional=True).double()
    x = rand(8, 3, 7, 2)
    lengths = torch.tensor([7, 3, 5])
    y, states = rnn(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        yb, sb = rnn(x[b : b + 1, :n])
        torch.testing.assert_close(y[b, :n], yb[0], **TIGHT)
        assert torch.all(y[b, n:] == 0)
        for s, s1 in zip(states, sb):
            torch.testing.assert_close(s[0][b], s1[0][0], **TIGHT)
            assert s[1][b].item() == n  # the counter stops at the sequence's own end
    assert isinstance(make_cell("clockwork", 2, 4, periods=(1, 2)), ClockworkCell)


def test_recurrent_dropout_keeps_inactive_modules_unmasked():
    cell = _cell(seed=4)
    x, h = rand(5, 2, 2), rand(6, 2, 6)
    t = torch.ones(2, 1, dtype=torch.float64)  # only the period-1 module is active
    y, _ = cell.step_with_dropout(cell.project_input(x), (h, t), torch.zeros(2, 6, dtype=torch.float64))
    torch.testing.assert_close(y[:, 2:], h[:, 2:], **TIGHT)
    torch.testing.assert_close(y[:, :2], torch.tanh(cell.project_input(x))[:, :2], **TIGHT)


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"periods": (2, 1)}, "periods must be distinct positive integers in ascending order"),
        ({"periods": ()}, "periods must be distinct"),
        ({"periods": (1, 2, 4, 8), "hidden_size": 6}, "hidden_size must be a multiple of len\\(periods\\)=4, got 6"),
    ],
)
def test_bad_options_are_one_line_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ClockworkCell(**{"input_size": 2, "hidden_size": 8, **kw})
