"""The Triton kernels run on the CPU under Triton's interpreter: ``TRITON_INTERPRET=1`` is set here, before any
kernel module is imported (Triton reads it when a kernel is defined). Without Triton installed (the ``gpu``
extra) every test in this folder is skipped."""

from __future__ import annotations

import os

import pytest
import torch

os.environ["TRITON_INTERPRET"] = "1"


@pytest.fixture
def loop_reference():
    """Each sequence run alone through ``cell.step`` (no padding): (T, B, H) outputs zero past each end, the
    final states and the gradients of ``loss_of(y, h)`` w.r.t. ``x``, ``h0`` and every parameter."""

    def run(cell, x, h0, lengths, loss_of):
        T, B = x.shape[0], x.shape[1]
        x, h0 = x.detach().requires_grad_(), h0.detach().requires_grad_()
        ends = [T] * B if lengths is None else lengths.tolist()
        ys, finals = [], []
        for b in range(B):
            h, outs = h0[b : b + 1], []
            for t in range(ends[b]):
                y, h = cell.step(cell.project_input(x[t, b : b + 1]), h)
                outs.append(y)
            pad = [x.new_zeros(1, cell.output_size)] * (T - ends[b])
            ys.append(torch.cat(outs + pad).unsqueeze(1))  # (T, 1, H)
            finals.append(h)
        y, h = torch.cat(ys, 1), torch.cat(finals)  # (T, B, H), (B, H)
        grads = torch.autograd.grad(loss_of(y, h), [x, h0, *cell.parameters()])
        return y.detach(), h.detach(), grads

    return run


@pytest.fixture
def triton_result():
    """The same through :func:`~unrolled.layers.triton.run_triton` (interpreted)."""
    from unrolled.layers.triton import run_triton

    def run(cell, x, h0, lengths, loss_of):
        x, h0 = x.detach().requires_grad_(), h0.detach().requires_grad_()
        y, h = run_triton(cell, cell.project_input(x), h0, lengths)
        grads = torch.autograd.grad(loss_of(y, h), [x, h0, *cell.parameters()])
        return y.detach(), h.detach(), grads

    return run


def weighted_loss(seed: int = 0):
    """A loss that reaches every output and the final state with distinct weights."""

    def loss(y, h):
        g = torch.Generator().manual_seed(seed)
        return (y * torch.randn(y.shape, generator=g)).sum() + (h * torch.randn(h.shape, generator=g)).sum()

    return loss


@pytest.fixture
def loss():
    return weighted_loss()


def assert_same(a, b, atol: float = 1e-5) -> None:
    ya, ha, ga = a
    yb, hb, gb = b
    torch.testing.assert_close(ya, yb, atol=atol, rtol=0)
    torch.testing.assert_close(ha, hb, atol=atol, rtol=0)
    assert len(ga) == len(gb)
    for k, (p, q) in enumerate(zip(ga, gb)):
        torch.testing.assert_close(p, q, atol=atol, rtol=0, msg=lambda m, k=k: f"gradient {k}: {m}")


@pytest.fixture
def same():
    return assert_same
