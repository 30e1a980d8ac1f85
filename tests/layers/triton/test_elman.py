"""Fused Triton Elman kernel (interpreted) equals each sequence run alone through ``cell.step``, and the scan
path: outputs, final state, gradients of the inputs, the initial state and every parameter."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

from unrolled.cells.elman import ElmanCell  # noqa: E402
from unrolled.layers.scan import scan  # noqa: E402
from unrolled.layers.triton import run_triton  # noqa: E402


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("lengths", [None, [4, 2]])
def test_elman_equals_the_plain_loop(nonlinearity, lengths, loop_reference, triton_result, loss, same):
    torch.manual_seed(0)
    cell = ElmanCell(3, 5, nonlinearity=nonlinearity)
    x, h0 = torch.randn(4, 2, 3), torch.randn(2, 5)
    lens = None if lengths is None else torch.tensor(lengths)
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))


def test_elman_without_bias_and_several_programs(loop_reference, triton_result, loss, same):
    torch.manual_seed(1)
    cell = ElmanCell(3, 8, bias=False)
    x, h0 = torch.randn(3, 18, 3), torch.randn(18, 8)  # B = 18 > BLOCK_B: two programs, the second one partial
    lens = torch.randint(1, 4, (18,))
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))


def test_elman_equals_the_scan_path_exactly_in_float32():
    torch.manual_seed(2)
    cell = ElmanCell(3, 4)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        y1, h1 = run_triton(cell, cell.project_input(x), torch.zeros(2, 4))
        y2, h2 = scan(cell, cell.project_input(x), torch.zeros(2, 4))
    torch.testing.assert_close(y1, y2, atol=1e-6, rtol=0)
    torch.testing.assert_close(h1, h2, atol=1e-6, rtol=0)
    assert y1.abs().min() > 0  # a real computation, not zeros


def test_nan_past_the_end_reaches_nothing():
    torch.manual_seed(3)
    cell = ElmanCell(3, 4)
    x = torch.randn(4, 2, 3)
    x[2:, 1] = float("nan")  # sequence 1 ends after 2 steps
    h0 = torch.zeros(2, 4, requires_grad=True)
    xp = cell.project_input(x)
    y, h = run_triton(cell, xp, h0, torch.tensor([4, 2]))
    (y.sum() + h.sum()).backward()
    assert torch.isfinite(y).all() and torch.isfinite(h).all()
    assert (y[2:, 1] == 0).all()
    assert torch.isfinite(h0.grad).all() and torch.isfinite(cell.weight_hh.grad).all()


@pytest.mark.parametrize("lengths", [None, [3, 1]])
def test_streamed_kernels_equal_the_plain_loop(lengths, monkeypatch, loop_reference, triton_result, loss, same):
    """Weights too large for the chip: W and h_{t-1} streamed in 16 x 16 tiles (H = 40: two full tiles and a
    partial one)."""
    from unrolled.layers.triton import kernel

    monkeypatch.setattr(kernel, "MAX_ON_CHIP_H", 0)
    monkeypatch.setattr(kernel, "STREAM_TILE", 16)
    torch.manual_seed(4)
    cell = ElmanCell(3, 40)
    x, h0 = torch.randn(3, 2, 3), torch.randn(2, 40)
    lens = None if lengths is None else torch.tensor(lengths)
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))
