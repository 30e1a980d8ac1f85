""":func:`run_triton` keeps the scan path's contract inside a real :class:`~unrolled.Recurrent` layer (stacked,
bidirectional, variable lengths, one- and two-tensor states): ``Recurrent``'s routing hook is told that the
Triton path runs here (on CUDA :func:`triton_runs` says so; on the CPU the kernels run under the interpreter),
and outputs, final states and every parameter's gradient equal the scan path's; ``paths()`` names it."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

import unrolled.layers.recurrent as recurrent  # noqa: E402
from unrolled.layers.recurrent import Recurrent  # noqa: E402
from unrolled.layers.triton import run_triton, triton_kernel  # noqa: E402


@pytest.mark.parametrize("cell", ["elman", "ln_lstm"])
def test_a_stacked_bidirectional_layer_with_lengths_equals_the_scan_path(cell, monkeypatch):
    torch.manual_seed(0)
    layer = Recurrent(cell, 3, 5, num_layers=2, bidirectional=True, batch_first=True)
    x, lengths = torch.randn(3, 4, 3), torch.tensor([4, 2, 3])
    calls = []

    def counted(c, xp, state, lens):
        calls.append(c)
        return run_triton(c, xp, state, lens)

    monkeypatch.setattr(recurrent, "run_triton", counted)
    results = []
    for routed in (False, True):
        monkeypatch.setattr(
            recurrent, "triton_runs", lambda c, device, routed=routed: routed and bool(triton_kernel(c))
        )
        assert layer.paths("cpu") == (["triton", "triton"] if routed else ["scan", "scan"])
        layer.zero_grad()
        y, states = layer(x, lengths=lengths)
        flat = [s for part in states for s in (part if isinstance(part, tuple) else (part,))]
        (y.pow(2).sum() + sum((s * s.cos()).sum() for s in flat)).backward()
        results.append((y.detach(), [s.detach() for s in flat], [p.grad.clone() for p in layer.parameters()]))
    assert len(calls) == 4  # routed: two layers, two directions
    (y1, s1, g1), (y2, s2, g2) = results
    torch.testing.assert_close(y2, y1, atol=1e-5, rtol=1e-5)
    for a, b in zip(s2 + g2, s1 + g1, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
