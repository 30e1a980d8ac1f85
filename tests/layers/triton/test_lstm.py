"""Fused Triton peephole LSTM kernel (interpreted) equals each sequence run alone through ``cell.step``: outputs,
final (h, c), gradients of the inputs, both initial state parts and every parameter (the three peepholes
included)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

from unrolled.cells.lstm import LSTMCell  # noqa: E402


@pytest.mark.parametrize("lengths", [None, [2, 4]])
def test_peephole_lstm_equals_the_plain_loop(lengths, loop_reference, triton_result, loss, same):
    torch.manual_seed(0)
    cell = LSTMCell(3, 6, peephole=True)
    with torch.no_grad():
        for p in (cell.weight_ci, cell.weight_cf, cell.weight_co):
            p.normal_(0.0, 0.5)  # away from their initialisation, so that a wrong peephole term shows
    x, state0 = torch.randn(4, 2, 3), (torch.randn(2, 6), torch.randn(2, 6))
    lens = None if lengths is None else torch.tensor(lengths)
    got, want = triton_result(cell, x, state0, lens, loss), loop_reference(cell, x, state0, lens, loss)
    same(got, want)
    assert all(g.abs().max() > 1e-3 for g in got[2])


def test_peephole_lstm_several_programs(loop_reference, triton_result, loss, same):
    torch.manual_seed(1)
    cell = LSTMCell(3, 4, peephole=True)
    x, state0 = torch.randn(3, 17, 3), (torch.randn(17, 4), torch.randn(17, 4))
    lens = torch.randint(1, 4, (17,))
    same(triton_result(cell, x, state0, lens, loss), loop_reference(cell, x, state0, lens, loss))
