"""The Triton path (interpreted) under ``torch.autocast("cpu", torch.bfloat16)`` follows the policy of
:mod:`unrolled.layers.precision`: its kernels run in float32 with autocast off on the projected inputs (cast from
bfloat16), outputs come back in bfloat16 and the final state and gradients in float32, equal to the scan path
under the same autocast."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (the [gpu] extra): the fused kernels are untested")

from unrolled.cells.elman import ElmanCell  # noqa: E402
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell  # noqa: E402
from unrolled.layers.scan import scan  # noqa: E402
from unrolled.layers.triton import run_triton  # noqa: E402

BF16 = torch.bfloat16


def _run(fn, cell, x, state0, lengths, loss, backward_inside: bool):
    x, parts = x.detach().requires_grad_(), [s.detach().requires_grad_() for s in state0]
    inputs = [x, *parts, *cell.parameters()]
    with torch.autocast("cpu", dtype=BF16):
        xp = cell.project_input(x)  # (T, B, G), bfloat16 products
        y, final = fn(cell, xp, parts[0] if len(parts) == 1 else tuple(parts), lengths)
        final = (final,) if isinstance(final, torch.Tensor) else tuple(final)
        if backward_inside:
            grads = torch.autograd.grad(loss(y.float(), final), inputs)
    if not backward_inside:
        grads = torch.autograd.grad(loss(y.float(), final), inputs)
    return y, final, grads


@pytest.mark.parametrize(
    ("make", "lengths", "backward_inside"),
    [
        (lambda: ElmanCell(3, 8), None, False),
        (lambda: LayerNormLSTMCell(3, 8), [4, 2, 1], True),
        (lambda: LayerNormGRUCell(3, 8, reset="before"), [3, 4, 2], False),
    ],
    ids=["elman", "ln_lstm-lengths-backward-inside", "ln_gru_before-lengths"],
)
def test_triton_equals_scan_under_autocast(make, lengths, backward_inside, loss):
    torch.manual_seed(0)
    cell = make()
    x = torch.randn(4, 3, 3)
    state0 = [torch.randn(3, 8) for _ in range(2 if isinstance(cell, LayerNormLSTMCell) else 1)]
    lens = None if lengths is None else torch.tensor(lengths)
    y_t, f_t, g_t = _run(run_triton, cell, x, state0, lens, loss, backward_inside)
    y_s, f_s, g_s = _run(scan, cell, x, state0, lens, loss, backward_inside)
    assert y_t.dtype == y_s.dtype == BF16
    torch.testing.assert_close(y_t.float(), y_s.float(), rtol=0, atol=8e-3)  # one bfloat16 rounding apart
    for a, b in zip(f_t, f_s):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=0, atol=2e-5)
    for k, (a, b) in enumerate(zip(g_t, g_s)):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"gradient {k}: {m}")
