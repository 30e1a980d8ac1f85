"""Fused Triton layer-normalised GRU kernel (interpreted), both resets, equals each sequence run alone through
``cell.step``: outputs, final state, gradients of the inputs, the initial state and every parameter (the r, z
LayerNorm's gain, the n LayerNorm's gain and shift, ``weight_hh``, and through ``project_input`` ``weight_ih`` and
``ln_ih``); inside a stacked bidirectional ``Recurrent`` with lengths it equals the scan path, and its double
backward equals autograd through ``cell.step``."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

import unrolled.layers.recurrent as recurrent  # noqa: E402
from unrolled.cells.layernorm import LayerNormGRUCell  # noqa: E402
from unrolled.layers.recurrent import Recurrent  # noqa: E402
from unrolled.layers.triton import run_triton, triton_kernel  # noqa: E402


def perturbed(cell):
    """Gains and shifts away from their 1 / 0 initialisation, so that a wrong gradient of them shows."""
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return cell


@pytest.mark.parametrize("reset", ["after", "before"])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_ln_gru_equals_the_plain_loop(reset, lengths, loop_reference, triton_result, loss, same):
    torch.manual_seed(0)
    cell = perturbed(LayerNormGRUCell(3, 5, reset=reset))  # H = 5: padded to 16 columns
    x, h0 = torch.randn(5, 3, 3), torch.randn(3, 5)  # T = 5, B = 3
    lens = None if lengths is None else torch.tensor(lengths)
    got, want = triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss)
    same(got, want)
    assert all(g.abs().max() > 1e-3 for g in got[2])  # every gradient is really computed


@pytest.mark.parametrize("reset", ["after", "before"])
def test_ln_gru_one_sequence_and_several_programs(reset, loop_reference, triton_result, loss, same):
    torch.manual_seed(1)
    cell = perturbed(LayerNormGRUCell(2, 4, reset=reset))
    x, h0 = torch.randn(3, 1, 2), torch.randn(1, 4)  # B = 1
    same(triton_result(cell, x, h0, None, loss), loop_reference(cell, x, h0, None, loss))
    x, h0 = torch.randn(3, 17, 2), torch.randn(17, 4)  # two programs (h0 = 0 would make dh0 ill-conditioned)
    lens = torch.randint(1, 4, (17,))
    same(triton_result(cell, x, h0, lens, loss), loop_reference(cell, x, h0, lens, loss))


def test_ln_gru_layer_equals_the_scan_path(monkeypatch):
    """Stacked, bidirectional (the reverse direction flips each sequence within its length), lengths."""
    torch.manual_seed(2)
    layer = Recurrent("ln_gru", 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    perturbed(layer)
    x, lengths = torch.randn(3, 4, 3), torch.tensor([4, 1, 3])
    calls = []

    def counted(c, xp, state, lens):
        calls.append(c)
        return run_triton(c, xp, state, lens)

    monkeypatch.setattr(recurrent, "run_triton", counted)
    results = []
    for routed in (False, True):
        monkeypatch.setattr(recurrent, "triton_runs", lambda c, d, routed=routed: routed and bool(triton_kernel(c)))
        assert layer.paths("cpu") == (["triton", "triton"] if routed else ["scan", "scan"])
        layer.zero_grad()
        y, states = layer(x, lengths=lengths)  # states: one (B, H) per layer and direction
        (y.pow(2).sum() + sum((s * s.cos()).sum() for s in states)).backward()
        h = torch.stack(states)  # (L D, B, H)
        results.append((y.detach(), h.detach(), [p.grad.clone() for p in layer.parameters()]))
    assert len(calls) == 4  # routed: two layers, two directions
    (y1, h1, g1), (y2, h2, g2) = results
    torch.testing.assert_close(y2, y1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h2, h1, atol=1e-5, rtol=1e-5)
    for a, b in zip(g2, g1, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        assert a.abs().max() > 1e-4


def test_ln_gru_double_backward_equals_the_plain_loop():
    torch.manual_seed(3)
    cell = perturbed(LayerNormGRUCell(3, 4))
    x, lengths = torch.randn(3, 2, 3), torch.tensor([3, 2])

    def plain(c, xp, h, lens):
        outs = []
        for t in range(xp.shape[0]):
            y, new = c.step(xp[t], h)
            keep = (t < lens).unsqueeze(1)  # (B, 1)
            h = torch.where(keep, new, h)
            outs.append(torch.where(keep, y, 0.0))
        return torch.stack(outs), h

    penalties = []
    for fn in (run_triton, plain):
        h0 = torch.randn(2, 4, generator=torch.Generator().manual_seed(1)).requires_grad_()
        y, h = fn(cell, cell.project_input(x), h0, lengths)
        (g,) = torch.autograd.grad(y.tanh().sum() + h.sum(), h0, create_graph=True)
        penalty = (g * g).sum()  # a gradient penalty: differentiated again
        penalties.append((penalty.detach(), torch.autograd.grad(penalty, [h0, cell.weight_hh, cell.ln_hn.weight])))
    (p1, g1), (p2, g2) = penalties
    torch.testing.assert_close(p1, p2, atol=1e-5, rtol=0)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        assert a.abs().max() > 1e-4
