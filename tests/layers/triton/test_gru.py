"""Fused Triton GRU (reset before the product) kernel, interpreted, equals each sequence run alone through
``cell.step``: outputs, final state, gradients of the inputs, the initial state and every parameter."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

from unrolled.cells.gru import GRUCell  # noqa: E402


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lengths", [None, [1, 3]])
def test_gru_before_equals_the_plain_loop(bias, lengths, loop_reference, triton_result, loss, same):
    torch.manual_seed(0)
    cell = GRUCell(3, 5, reset="before", bias=bias)
    x, h0 = torch.randn(3, 2, 3), torch.randn(2, 5)
    lens = None if lengths is None else torch.tensor(lengths)
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))


def test_gru_before_several_programs(loop_reference, triton_result, loss, same):
    torch.manual_seed(1)
    cell = GRUCell(3, 4, reset="before")
    x, h0 = torch.randn(4, 17, 3), torch.randn(17, 4)
    lens = torch.randint(1, 5, (17,))
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))
