"""The compiled (numba) layer-norm LSTM scan kernel against the torch kernel and the plain loop over ``cell.step``;
its selection and the fallback without numba; the vectorised exp/sigmoid/tanh it uses against numpy."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from unrolled import Recurrent
from unrolled.cells import LayerNormLSTMCell
from unrolled.layers.scan import _ScanFunction, capture_of, scan, scan_kernel
from unrolled.layers.scan.layernorm import LayerNormLSTMScan
from unrolled.layers.scan.layernorm_compiled import LayerNormLSTMCompiled
from unrolled.layers.unroll import UnrollOptions, unroll

I, H = 3, 6


def make(dtype=torch.float64, seed=0, hidden=H) -> LayerNormLSTMCell:
    """A cell whose parameters are all moved off their initial values (LayerNorm gains and shifts included)."""
    torch.manual_seed(seed)
    cell = LayerNormLSTMCell(I, hidden).to(dtype)
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return cell


def with_kernel(kernel, cell, xp, state, lengths):
    """scan() with a given kernel (the Function, as scan runs it when gradients are on)."""
    capture = capture_of(lengths, xp.shape[0])
    out, *final = _ScanFunction.apply(kernel, capture, 2, xp.contiguous(), *state, *kernel.params(cell))
    return out, tuple(final)


def loop(cell, xp, state, lengths):
    y, s, _ = unroll(cell, xp, state, UnrollOptions(lengths=lengths))
    if lengths is not None:  # the scan path's outputs are zero past each end
        y = y * (torch.arange(xp.shape[0])[:, None] < lengths[None, :]).unsqueeze(-1).to(y.dtype)
    return y, tuple(s)


def results(fn, cell, x, s0, lengths):
    """Outputs, final state and the gradients of a loss touching every output and state part, w.r.t. x, h0, c0
    and every parameter."""
    y, s = fn(cell.project_input(x), s0, lengths)
    w = torch.linspace(-1.0, 1.0, y.numel(), dtype=y.dtype).view_as(y)
    loss = (y * w).sum() + sum(0.5 * (p**3).sum() for p in s)
    grads = torch.autograd.grad(loss, [x, *s0, *cell.parameters()])
    return (y, *s, *grads)


def names(cell):
    return ["y", "h_T", "c_T", "dx", "dh0", "dc0", *(f"d{n}" for n, _ in cell.named_parameters())]


CASES = [(5, 3, None), (17, 2, None), (35, 1, None), (18, 4, [18, 16, 1, 9])]
CASE_IDS = ["short", "chunk+1", "B1-three-chunks", "lengths-across-chunks"]


def inputs(dtype, T, B, lengths, seed):
    cell = make(dtype, seed=seed)
    x = torch.randn(T, B, I, dtype=dtype, requires_grad=True)
    s0 = tuple(torch.randn(B, H, dtype=dtype, requires_grad=True) for _ in range(2))
    return cell, x, s0, None if lengths is None else torch.tensor(lengths)


def the_three(cell, x, s0, L):
    """(compiled kernel, torch kernel, plain loop) results."""
    assert isinstance(scan_kernel(cell), LayerNormLSTMCompiled)
    compiled = results(lambda xp, s, n: scan(cell, xp, s, n), cell, x, s0, L)
    torch_kernel = results(lambda xp, s, n: with_kernel(LayerNormLSTMScan(cell), cell, xp, s, n), cell, x, s0, L)
    return compiled, torch_kernel, results(lambda xp, s, n: loop(cell, xp, s, n), cell, x, s0, L)


@pytest.mark.parametrize("T, B, lengths", CASES, ids=CASE_IDS)
def test_float64_compiled_equals_torch_kernel_and_loop(T, B, lengths):
    cell, x, s0, L = inputs(torch.float64, T, B, lengths, seed=T + B)
    compiled, torch_kernel, plain = the_three(cell, x, s0, L)
    for name, a, b, c in zip(names(cell), compiled, torch_kernel, plain):
        assert c.abs().max() > 0, f"{name}: the loop's value is zero, the comparison would be vacuous"
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=lambda m, n=name: f"{n} vs torch kernel: {m}")
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-10, msg=lambda m, n=name: f"{n} vs loop: {m}")


@pytest.mark.parametrize("T, B, lengths", CASES, ids=CASE_IDS)
def test_float32_compiled_is_as_close_to_float64_as_the_torch_kernel(T, B, lengths):
    """float32 BPTT accumulates rounding over the steps (the torch kernel and the loop differ from each other by
    up to 1e-5 of a gradient's largest entry at T = 35), so each float32 result is compared with the float64 loop,
    relative to that tensor's largest magnitude: the compiled kernel within 3e-5, as the torch kernel."""
    cell, x, s0, L = inputs(torch.float32, T, B, lengths, seed=T + B)
    compiled, torch_kernel, plain = the_three(cell, x, s0, L)
    cell64 = cell.double()
    x64 = x.detach().double().requires_grad_()
    s64 = tuple(s.detach().double().requires_grad_() for s in s0)
    truth = results(lambda xp, s, n: loop(cell64, xp, s, n), cell64, x64, s64, L)
    for name, a, b, c, d in zip(names(cell), compiled, torch_kernel, plain, truth):
        assert a.dtype == torch.float32 and d.abs().max() > 0
        for found, who in ((a, "compiled"), (b, "torch kernel"), (c, "loop")):
            err = ((found.double() - d).abs().max() / d.abs().max()).item()
            assert err < 3e-5, f"{name} ({who}): float32 error {err:.2e} of the largest magnitude"


def test_float64_agrees_with_the_loop_to_rounding():
    """H = 10 (vector lanes plus a remainder), 20 steps: far below the parity tolerance."""
    cell = make(torch.float64, seed=3, hidden=10)
    x = torch.randn(20, 3, I, dtype=torch.float64, requires_grad=True)
    s0 = tuple(torch.randn(3, 10, dtype=torch.float64, requires_grad=True) for _ in range(2))
    a = results(lambda xp, s, n: scan(cell, xp, s, n), cell, x, s0, None)
    b = results(lambda xp, s, n: loop(cell, xp, s, n), cell, x, s0, None)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)


def twin(backend_b: str, **kwargs):
    torch.manual_seed(5)
    a = Recurrent("ln_lstm", I, H, backend="scan", **kwargs).double()
    with torch.no_grad():
        for p in a.parameters():
            p.add_(0.2 * torch.randn_like(p))
    b = Recurrent("ln_lstm", I, H, backend=backend_b, **kwargs).double()
    b.load_state_dict(a.state_dict())
    return a, b


def layer_results(layer, x, lengths):
    y, state = layer(x, lengths=lengths)
    flat = [t for s in state for t in s]
    w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    loss = (y * w).sum() + sum((t**2).sum() for t in flat)
    return (y, *flat, *torch.autograd.grad(loss, [x, *layer.parameters()]))


def test_recurrent_two_layers_bidirectional_with_lengths_equals_loop_and_torch_kernel(monkeypatch):
    a, b = twin("loop", num_layers=2, bidirectional=True)
    assert a.paths("cpu") == ["scan", "scan"]
    x = torch.randn(4, 19, I, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([19, 3, 1, 17])
    ra, rb = layer_results(a, x, lengths), layer_results(b, x, lengths)
    monkeypatch.setitem(sys.modules, "numba", None)  # numba "missing": the same layer takes the torch kernel
    assert type(scan_kernel(a.cells[0])) is LayerNormLSTMScan
    rc = layer_results(a, x, lengths)
    assert rb[0].abs().max() > 0
    for u, v, w in zip(ra, rb, rc):
        torch.testing.assert_close(u, v, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(u, w, rtol=1e-10, atol=1e-10)


def test_selection_and_fallback_without_numba(monkeypatch):
    cell = make()
    assert type(scan_kernel(cell)) is LayerNormLSTMCompiled
    assert type(scan_kernel(make(torch.float32))) is LayerNormLSTMCompiled
    assert type(scan_kernel(make(torch.bfloat16))) is LayerNormLSTMScan  # only float32/float64 compiled
    monkeypatch.setitem(sys.modules, "numba", None)
    assert type(scan_kernel(cell)) is LayerNormLSTMScan
    x = torch.randn(6, 2, I, dtype=torch.float64)
    s0 = cell.init_state(2, dtype=torch.float64)
    y_fallback, s_fallback = scan(cell, cell.project_input(x), s0)
    monkeypatch.undo()
    assert type(scan_kernel(cell)) is LayerNormLSTMCompiled
    y, s = scan(cell, cell.project_input(x), s0)
    torch.testing.assert_close(y, y_fallback, rtol=1e-12, atol=1e-12)
    for u, v in zip(s, s_fallback):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)


def test_rows_split_over_threads_give_the_one_thread_results(monkeypatch):
    """From the grain up (lowered here to every size) a step's rows run on numba's threads, compiled separately:
    the forward is bit for bit the one-thread run, the backward to rounding (LLVM may vectorise a row's sums
    differently in the two compiled functions)."""
    import numba

    from unrolled.layers.scan import layernorm_compiled, layernorm_numba

    cell = make(seed=12)
    x = torch.randn(18, 5, I, dtype=torch.float64, requires_grad=True)
    s0 = tuple(torch.randn(5, H, dtype=torch.float64, requires_grad=True) for _ in range(2))
    L = torch.tensor([18, 4, 17, 1, 9])
    monkeypatch.setattr(layernorm_compiled, "compiled_threads", lambda: 1)
    one = results(lambda xp, s, n: scan(cell, xp, s, n), cell, x, s0, L)
    monkeypatch.setattr(layernorm_compiled, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(layernorm_compiled, "compiled_threads", lambda: min(2, numba.config.NUMBA_NUM_THREADS))
    if numba.config.NUMBA_NUM_THREADS >= 2:
        forward, backward = scan_kernel(cell)._steps(5)
        assert forward is layernorm_numba.forward_step_parallel
        assert backward is layernorm_numba.backward_step_parallel
    split = results(lambda xp, s, n: scan(cell, xp, s, n), cell, x, s0, L)
    for name, a, b in zip(names(cell), split, one):
        if name in ("y", "h_T", "c_T"):
            assert torch.equal(a, b), name
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_inference_equals_training_forward(dtype):
    """No gradients: the same compiled step on one scratch step (two for c), bit for bit."""
    cell = make(dtype, seed=7)
    x = torch.randn(21, 3, I, dtype=dtype)
    s0 = tuple(torch.randn(3, H, dtype=dtype) for _ in range(2))
    y_train, s_train = scan(cell, cell.project_input(x), s0)
    assert y_train.grad_fn is not None
    with torch.no_grad():
        y, s = scan(cell, cell.project_input(x), s0)
    assert torch.equal(y, y_train)
    for u, v in zip(s, s_train):
        assert torch.equal(u, v)


def test_double_backward_through_the_compiled_kernel_equals_the_loop():
    """create_graph=True: the Function recomputes through cell.step (as for every kernel); the first-order
    gradients of the compiled kernel agree with it."""
    cell = make(seed=9)
    x = torch.randn(5, 2, I, dtype=torch.float64, requires_grad=True)
    s0 = tuple(torch.randn(2, H, dtype=torch.float64, requires_grad=True) for _ in range(2))
    leaves = [x, *s0, *cell.parameters()]
    found = []
    for fn in (lambda xp, s: scan(cell, xp, s), lambda xp, s: loop(cell, xp, s, None)):
        y, _ = fn(cell.project_input(x), s0)
        g = torch.autograd.grad(y.pow(2).sum(), leaves, create_graph=True)
        penalty = sum(gi.pow(2).sum() for gi in g)
        found.append((g, torch.autograd.grad(penalty, leaves)))
    (g1, gg1), (g2, gg2) = found
    for u, v in zip((*g1, *gg1), (*g2, *gg2)):
        torch.testing.assert_close(u, v, rtol=1e-10, atol=1e-10)


def test_gradcheck_of_the_compiled_function():
    cell = make(seed=11)
    kernel = scan_kernel(cell)
    assert isinstance(kernel, LayerNormLSTMCompiled)
    xp = cell.project_input(torch.randn(4, 2, I, dtype=torch.float64)).detach().requires_grad_()
    s0 = [torch.randn(2, H, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    P = [p.detach().requires_grad_() for p in kernel.params(cell)]
    capture = capture_of(torch.tensor([4, 2]), 4)

    def f(xp, h0, c0, *Q):
        return _ScanFunction.apply(kernel, capture, 2, xp, h0, c0, *Q)

    assert torch.autograd.gradcheck(f, (xp, *s0, *P), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorised_exp_sigmoid_tanh_match_numpy(dtype):
    from numba import njit

    from unrolled.layers.scan import numba_math

    @njit
    def apply(x, out):
        for j in range(x.shape[0]):
            out[0, j] = numba_math.exp(x[j])
            out[1, j] = numba_math.sigmoid(x[j])
            out[2, j] = numba_math.tanh(x[j])

    x = np.concatenate([np.linspace(-30, 30, 2001), [-1e4, -700, -90, -1e-9, 0.0, 1e-9, 85, 700, 1e4]]).astype(dtype)
    out = np.empty((3, x.size), dtype)
    apply(x, out)
    x64 = x.astype(np.float64)
    eps = np.finfo(dtype).eps
    inside = np.abs(x64) <= 80  # exp: relative error inside the normal range
    np.testing.assert_allclose(out[0, inside], np.exp(x64[inside]), rtol=4 * eps, atol=0)
    np.testing.assert_allclose(out[1], 0.5 * (1 + np.tanh(x64 / 2)), rtol=0, atol=4 * eps)
    np.testing.assert_allclose(out[2], np.tanh(x64), rtol=0, atol=4 * eps)
    assert out[1, -1] == 1 and 0 <= out[1, -9] < 1e-37 and out[2, -1] == 1 and out[2, -9] == -1  # saturated
