"""NTM cell and model: weightings stay distributions, hand-checked first step, gradcheck, padded equals unpadded."""

import pytest
import torch

from unrolled.layers.ntm_addressing import address, read, write
from unrolled.layers.recurrent import Recurrent
from unrolled.models.ntm import NTM, NTMCell


def _cell():
    torch.manual_seed(0)
    return NTMCell(3, 5, memory_slots=6, memory_width=4, read_heads=2, write_heads=1).double()


def test_first_step_equals_hand_composition_and_weights_sum_to_one():
    cell = _cell()
    x = torch.randn(2, 3, dtype=torch.float64)
    y, (y2, c, mem, wr, ww) = cell(x, cell.init_state(2))
    # by hand: controller on [x; r0 = 0], then head parameters, write, then read
    h, (_, c_ref) = cell.controller(torch.cat([x, torch.zeros(2, 8, dtype=torch.float64)], 1))
    p = cell.heads(h)
    A = 4 + 3 + 3
    pr, pw = p[:, : 2 * A].view(2, 2, A), p[:, 2 * A :].view(2, 1, A + 8)
    mem0 = torch.full((2, 6, 4), 1e-6, dtype=torch.float64)
    one_hot = torch.zeros(2, 1, 6, dtype=torch.float64)
    one_hot[..., 0] = 1
    wr_ref = address(mem0, one_hot.expand(2, 2, 6), *cell._addressing(pr))  # reads address M_{t-1}
    ww_ref = address(mem0, one_hot, *cell._addressing(pw[..., :A]))
    mem_ref = write(mem0, ww_ref, torch.sigmoid(pw[..., A : A + 4]), torch.tanh(pw[..., A + 4 :]))
    torch.testing.assert_close(y, torch.cat([h, read(mem0, wr_ref).reshape(2, 8)], 1))
    torch.testing.assert_close(c, c_ref)
    torch.testing.assert_close(mem, mem_ref.reshape(2, -1))
    assert torch.equal(y, y2)
    torch.testing.assert_close(wr.view(2, 2, 6).sum(-1), torch.ones(2, 2, dtype=torch.float64))
    torch.testing.assert_close(ww.view(2, 1, 6).sum(-1), torch.ones(2, 1, dtype=torch.float64))


def test_gradcheck_float64():
    cell = _cell()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    state = cell.init_state(2)
    mem = (state[2] + 0.3 * torch.randn(2, 24, dtype=torch.float64)).requires_grad_()

    def f(x, mem):
        y, s = cell(x, (state[0], state[1], mem, state[3], state[4]))
        y, s = cell(x * 0.5, s)
        return y

    assert torch.autograd.gradcheck(f, (x, mem))


def test_padded_equals_unpadded_under_recurrent():
    cell = _cell()
    rnn = Recurrent(cell, 3, 5)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    y, (state,) = rnn(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        yb, (sb,) = rnn(x[b : b + 1, :n])
        torch.testing.assert_close(y[b, :n], yb[0], rtol=1e-12, atol=1e-12)
        for part, part1 in zip(state, sb):
            torch.testing.assert_close(part[b], part1[0], rtol=1e-12, atol=1e-12)


def test_model_same_seed_same_result_and_errors():
    outs = []
    for _ in range(2):
        torch.manual_seed(4)
        model = NTM(input_size=3, output_size=2, hidden_size=8, memory_slots=5, memory_width=3)
        outs.append(model(torch.ones(2, 4, 3)))
    assert torch.equal(*outs)
    with pytest.raises(ValueError, match=r"shift_range must be an integer in \[0, memory_slots=4\), got 4"):
        NTMCell(3, 5, memory_slots=4, shift_range=4)
    with pytest.raises(ValueError, match="memory_width must be a positive integer, got 0"):
        NTMCell(3, 5, memory_width=0)
