"""Fused Triton leaky-integrator kernel (interpreted) equals each sequence run alone through ``cell.step``:
outputs, final state, gradients of the inputs, the initial state and every parameter (``tau_raw`` included)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

from unrolled.cells.leaky import LeakyCell  # noqa: E402


@pytest.mark.parametrize(
    "options",
    [
        {"tau": [1.0, 2.0, 4.0, 8.0, 1.5, 3.0]},  # fixed, per unit
        {"tau_range": (1.0, 20.0), "learn_tau": True},  # sampled and learned: tau_raw gets a gradient
        {"tau": 3.0, "learn_tau": True, "nonlinearity": "relu"},
        {"tau": 2.0, "nonlinearity": "sigmoid"},
    ],
)
@pytest.mark.parametrize("lengths", [None, [2, 5]])
def test_leaky_equals_the_plain_loop(options, lengths, loop_reference, triton_result, loss, same):
    torch.manual_seed(0)
    cell = LeakyCell(3, 6, **options)
    x, h0 = torch.randn(5, 2, 3), torch.randn(2, 6)
    lens = None if lengths is None else torch.tensor(lengths)
    got, want = triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss)
    same(got, want)
    if cell.learn_tau:
        assert got[2][-1].abs().max() > 1e-4  # the tau_raw gradient is really computed


def test_leaky_several_programs_sum_the_leak_gradient(loop_reference, triton_result, loss, same):
    torch.manual_seed(1)
    cell = LeakyCell(3, 4, tau_range=(1.0, 10.0), learn_tau=True)
    x, h0 = torch.randn(3, 20, 3), torch.randn(20, 4)  # two programs: per-program leak gradients are summed
    lens = torch.randint(1, 4, (20,))
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))


@pytest.mark.parametrize("lengths", [None, [3, 1]])
def test_streamed_kernels_equal_the_plain_loop(lengths, monkeypatch, loop_reference, triton_result, loss, same):
    """Weights too large for the chip: W and s_{t-1} streamed in 16 x 16 tiles (H = 40: two full tiles and a
    partial one), the leak's gradient accumulated tile by tile."""
    from unrolled.layers.triton import kernel

    monkeypatch.setattr(kernel, "MAX_ON_CHIP_H", 0)
    monkeypatch.setattr(kernel, "STREAM_TILE", 16)
    torch.manual_seed(4)
    cell = LeakyCell(3, 40, tau_range=(1.0, 10.0), learn_tau=True)
    x, h0 = torch.randn(3, 2, 3), torch.randn(2, 40)
    lens = None if lengths is None else torch.tensor(lengths)
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))
