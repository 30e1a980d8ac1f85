"""The Triton path's autograd Function and :func:`run_triton`: double backward, gradients only where asked, the
no-grad path, and every error (interpreted on the CPU)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

from unrolled.cells.elman import ElmanCell  # noqa: E402
from unrolled.cells.gru import GRUCell  # noqa: E402
from unrolled.cells.leaky import LeakyCell  # noqa: E402
from unrolled.cells.lstm import LSTMCell  # noqa: E402
from unrolled.layers.scan import scan  # noqa: E402
from unrolled.layers.triton import run_triton  # noqa: E402


def _plain_loop(cell, xp, h0, lengths):
    """A differentiable loop over ``cell.step``: outputs zero and the state held past each end."""
    h, outs = h0, []
    for t in range(xp.shape[0]):
        y, new = cell.step(xp[t], h)
        keep = (t < lengths).unsqueeze(1)  # (B, 1)
        h = torch.where(keep, new, h)
        outs.append(torch.where(keep, y, 0.0))
    return torch.stack(outs), h


def test_double_backward_equals_the_plain_loop():
    torch.manual_seed(0)
    cell = LeakyCell(3, 4, tau=[1.0, 2.0, 3.0, 4.0])
    x = torch.randn(3, 2, 3)
    penalties = []
    for fn in (run_triton, _plain_loop):
        h0 = torch.randn(2, 4, generator=torch.Generator().manual_seed(1)).requires_grad_()
        y, h = fn(cell, cell.project_input(x), h0, torch.tensor([3, 2]))
        (g,) = torch.autograd.grad((y.tanh().sum() + h.sum()), h0, create_graph=True)
        penalty = (g * g).sum()  # a gradient penalty: differentiated again
        penalties.append((penalty.detach(), torch.autograd.grad(penalty, [h0, cell.weight_hh])))
    (p1, g1), (p2, g2) = penalties
    torch.testing.assert_close(p1, p2, atol=1e-5, rtol=0)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        assert a.abs().max() > 1e-3


@pytest.mark.parametrize("on", ["output", "final"])
def test_loss_on_outputs_only_or_final_state_only(on):
    torch.manual_seed(2)
    cell = GRUCell(3, 4, reset="before")
    x = torch.randn(4, 2, 3)
    results = []
    for fn in (run_triton, scan):
        h0 = torch.zeros(2, 4, requires_grad=True)
        y, h = fn(cell, cell.project_input(x), h0)
        loss = y.pow(2).sum() if on == "output" else h.pow(2).sum()
        results.append(torch.autograd.grad(loss, [h0, *cell.parameters()]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_gradients_only_where_needed_and_no_grad_path():
    torch.manual_seed(3)
    cell = ElmanCell(3, 4).requires_grad_(False)
    x = torch.randn(3, 2, 3, requires_grad=True)
    h0 = torch.zeros(2, 4)
    y, h = run_triton(cell, cell.project_input(x), h0)
    y.sum().backward()  # only x needs a gradient: the kernel skips dW
    y2, _ = scan(cell, cell.project_input(x.detach()), h0)
    x2 = x.detach().requires_grad_()
    scan(cell, cell.project_input(x2), h0)[0].sum().backward()
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-5, rtol=0)
    with torch.no_grad():
        y3, h3 = run_triton(cell, cell.project_input(x), h0)
    torch.testing.assert_close(y3, y2, atol=1e-6, rtol=0)
    assert not y3.requires_grad


def test_errors_are_one_line_value_errors(monkeypatch):
    cell = ElmanCell(3, 4)
    xp = cell.project_input(torch.randn(3, 2, 3))
    h0 = torch.zeros(2, 4)
    cases = [
        (lambda: run_triton(LSTMCell(3, 4), xp, h0), "no Triton kernel"),
        (lambda: run_triton(GRUCell(3, 4), torch.zeros(3, 2, 12), h0), "no Triton kernel"),  # reset="after"
        (lambda: run_triton(cell, xp[0], h0), r"projected inputs \(T, B, 4\)"),
        (lambda: run_triton(cell.double(), xp.double(), h0.double()), "float32"),
        (
            lambda: run_triton(ElmanCell(3, 4), xp, torch.zeros(3, 4)),
            r"a state of 1 tensor\(s\) \(2, 4\), got \[\(3, 4\)\]",
        ),
        (lambda: run_triton(ElmanCell(3, 4), xp, h0, torch.tensor([1.0, 2.0])), "integer tensor"),
        (lambda: run_triton(ElmanCell(3, 4), xp, h0, torch.tensor([0, 2])), r"lengths in 1..T = 1..3"),
    ]
    huge = torch.empty(2**29, 1, 4, device="meta")  # 2**31 elements: beyond 32-bit offsets (never allocated)
    cases.append((lambda: run_triton(ElmanCell(3, 4), huge, torch.zeros(1, 4)), r"fewer than 2\*\*31"))
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="expected CUDA tensors"):
        run_triton(ElmanCell(3, 4), xp, h0)
