"""Teacher forcing through ``Recurrent(teacher=...)`` equals a hand-written loop that feeds the targets back."""

import pytest
import torch

from unrolled.layers import Recurrent

B, T, I, H, O = 3, 5, 2, 4, 2


def manual(cell, x, teacher, y0):
    """y_t = cell(x_t, teacher_{t-1}), with y0 fed back at t = 0: (B, T, O)."""
    outs, y_prev = [], y0
    for t in range(x.shape[1]):
        if t > 0:
            y_prev = teacher[:, t - 1]
        y, _ = cell(x[:, t], y_prev)
        outs.append(y)
    return torch.stack(outs, 1)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("given_state", [False, True])
def test_teacher_forcing_equals_manual_loop(batch_first, given_state):
    torch.manual_seed(0)
    rec = Recurrent("jordan", I, H, output_size=O, batch_first=batch_first).double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    teacher = torch.randn(B, T, O, dtype=torch.float64, requires_grad=True)
    y0 = torch.randn(B, O, dtype=torch.float64) if given_state else torch.zeros(B, O, dtype=torch.float64)
    state = (y0,) if given_state else None
    expected = manual(rec.cells[0], x, teacher, y0)

    def tm(v):
        return v if batch_first else v.transpose(0, 1)

    y, (final,) = rec(tm(x), state, teacher=tm(teacher))
    torch.testing.assert_close(tm(y), expected, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(final, expected[:, -1], rtol=1e-13, atol=1e-14)
    # the targets get gradient through every step but the last (teacher[:, T-1] is never fed back)
    (g,) = torch.autograd.grad(y.sum(), teacher)  # (B, T, O), the leaf's own layout
    assert bool((g[:, :-1].abs().sum(-1) > 0).all()) and torch.count_nonzero(g[:, -1]) == 0
    free, _ = rec(tm(x), state)
    assert (free - y).abs().max() > 1e-3


def test_forcing_the_models_own_outputs_is_free_running():
    torch.manual_seed(0)
    rec = Recurrent("jordan", I, H, output_size=O, output_nonlinearity="tanh").double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    free, _ = rec(x)
    forced, _ = rec(x, teacher=free.detach())
    torch.testing.assert_close(forced, free, rtol=1e-13, atol=1e-14)


def test_teacher_forcing_with_lengths():
    torch.manual_seed(0)
    rec = Recurrent("jordan", I, H, output_size=O).double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    teacher = torch.randn(B, T, O, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 3])
    y, (final,) = rec(x, teacher=teacher, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        expected = manual(rec.cells[0], x[b : b + 1, :n], teacher[b : b + 1, :n], torch.zeros(1, O, dtype=x.dtype))
        torch.testing.assert_close(y[b : b + 1, :n], expected, rtol=1e-13, atol=1e-14)
        torch.testing.assert_close(final[b], expected[0, -1], rtol=1e-13, atol=1e-14)
        assert torch.count_nonzero(y[b, n:]) == 0
