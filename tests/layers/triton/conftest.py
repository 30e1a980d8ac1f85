"""The Triton kernels run on the CPU under Triton's interpreter: ``TRITON_INTERPRET=1`` is set here, before any
kernel module is imported (Triton reads it when a kernel is defined). Without Triton installed (the ``gpu``
extra) every test in this folder is skipped."""

from __future__ import annotations

import os

import pytest
import torch

os.environ["TRITON_INTERPRET"] = "1"


def as_parts(state) -> tuple:
    return (state,) if isinstance(state, torch.Tensor) else tuple(state)


@pytest.fixture
def loop_reference():
    """Each sequence run alone through ``cell.step`` (no padding): (T, B, H) outputs zero past each end, the
    final state parts and the gradients of ``loss_of(y, state)`` w.r.t. ``x``, the initial state parts and every
    parameter. ``state0``: a tensor (B, H) or a tuple of them."""

    def run(cell, x, state0, lengths, loss_of):
        T, B = x.shape[0], x.shape[1]
        x, parts = x.detach().requires_grad_(), [s.detach().requires_grad_() for s in as_parts(state0)]
        ends = [T] * B if lengths is None else lengths.tolist()
        ys, finals = [], []
        for b in range(B):
            s, outs = tuple(p[b : b + 1] for p in parts), []
            for t in range(ends[b]):
                y, s = cell.step(cell.project_input(x[t, b : b + 1]), s[0] if len(parts) == 1 else s)
                s = as_parts(s)
                outs.append(y)
            pad = [x.new_zeros(1, cell.output_size)] * (T - ends[b])
            ys.append(torch.cat(outs + pad).unsqueeze(1))  # (T, 1, H)
            finals.append(s)
        y = torch.cat(ys, 1)  # (T, B, H)
        final = tuple(torch.cat(f) for f in zip(*finals))  # each (B, H)
        grads = torch.autograd.grad(loss_of(y, final), [x, *parts, *cell.parameters()])
        return y.detach(), tuple(f.detach() for f in final), grads

    return run


@pytest.fixture
def triton_result():
    """The same through :func:`~unrolled.layers.triton.run_triton` (interpreted)."""
    from unrolled.layers.triton import run_triton

    def run(cell, x, state0, lengths, loss_of):
        x, parts = x.detach().requires_grad_(), [s.detach().requires_grad_() for s in as_parts(state0)]
        y, final = run_triton(cell, cell.project_input(x), parts[0] if len(parts) == 1 else tuple(parts), lengths)
        final = as_parts(final)
        grads = torch.autograd.grad(loss_of(y, final), [x, *parts, *cell.parameters()])
        return y.detach(), tuple(f.detach() for f in final), grads

    return run


def weighted_loss(seed: int = 0):
    """A loss that reaches every output and the final state with distinct weights."""

    def loss(y, state):
        g = torch.Generator().manual_seed(seed)
        total = (y * torch.randn(y.shape, generator=g)).sum()
        for s in as_parts(state):
            total = total + (s * torch.randn(s.shape, generator=g)).sum()
        return total

    return loss


@pytest.fixture
def loss():
    return weighted_loss()


def assert_same(a, b, atol: float = 1e-5) -> None:
    ya, ha, ga = a
    yb, hb, gb = b
    torch.testing.assert_close(ya, yb, atol=atol, rtol=0)
    assert len(ha) == len(hb)
    for p, q in zip(ha, hb):
        torch.testing.assert_close(p, q, atol=atol, rtol=0)
    assert len(ga) == len(gb)
    for k, (p, q) in enumerate(zip(ga, gb)):
        torch.testing.assert_close(p, q, atol=atol, rtol=0, msg=lambda m, k=k: f"gradient {k}: {m}")


@pytest.fixture
def same():
    return assert_same
