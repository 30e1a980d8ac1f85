"""Fused Triton layer-normalised LSTM kernel (interpreted) equals each sequence run alone through ``cell.step``:
outputs, final (h, c), gradients of the inputs, both initial state parts and every parameter (both LayerNorm
gains, the cell LayerNorm's shift, ``weight_hh``, and through ``project_input`` ``weight_ih`` and ``ln_ih``)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

from unrolled.cells.layernorm import LayerNormLSTMCell  # noqa: E402


def perturbed(cell: LayerNormLSTMCell) -> LayerNormLSTMCell:
    """Gains and shifts away from their 1 / 0 initialisation, so that a wrong gradient of them shows."""
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return cell


@pytest.mark.parametrize("lengths", [None, [4, 2]])
def test_ln_lstm_equals_the_plain_loop(lengths, loop_reference, triton_result, loss, same):
    torch.manual_seed(0)
    cell = perturbed(LayerNormLSTMCell(3, 6))
    x, state0 = torch.randn(4, 2, 3), (torch.randn(2, 6), torch.randn(2, 6))
    lens = None if lengths is None else torch.tensor(lengths)
    got, want = triton_result(cell, x, state0, lens, loss), loop_reference(cell, x, state0, lens, loss)
    same(got, want)
    assert all(g.abs().max() > 1e-3 for g in got[2])  # every gradient is really computed


def test_ln_lstm_several_programs(loop_reference, triton_result, loss, same):
    torch.manual_seed(1)
    cell = perturbed(LayerNormLSTMCell(3, 4))
    x, state0 = torch.randn(3, 18, 3), (torch.randn(18, 4), torch.randn(18, 4))  # h0 = 0: LN of 0, ill-conditioned
    lens = torch.randint(1, 4, (18,))
    same(triton_result(cell, x, state0, lens, loss), loop_reference(cell, x, state0, lens, loss))
