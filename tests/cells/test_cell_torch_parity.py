"""Cells vs torch.nn's cells after copying weights: outputs, states and every gradient, in float64."""

import pytest
import torch
from torch import nn

from unrolled.cells import ElmanCell, GRUCell, LSTMCell

B, I, H, P = 3, 4, 5, 2
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def copy_weights(src: nn.Module, dst: nn.Module, names=WEIGHTS, suffix="") -> None:
    with torch.no_grad():
        for name in names:
            s = getattr(src, name + suffix)
            if s is None:
                assert getattr(dst, name) is None
                continue
            getattr(dst, name).copy_(s)


def assert_grads_match(ours: nn.Module, theirs: nn.Module, names=WEIGHTS, suffix="") -> None:
    for name in names:
        p = getattr(ours, name)
        if p is None:
            continue
        q = getattr(theirs, name + suffix)
        assert p.grad is not None and q.grad is not None, name
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-12, msg=name)


def inputs(seed: int, *shapes):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_elman_matches_rnncell(nonlinearity, bias):
    torch.manual_seed(0)
    ours = ElmanCell(I, H, nonlinearity=nonlinearity, bias=bias).double()
    theirs = nn.RNNCell(I, H, bias=bias, nonlinearity=nonlinearity).double()
    copy_weights(theirs, ours)
    x, h0, r = inputs(1, (B, I), (B, H), (B, H))
    y, h = ours(x, h0)
    ref = theirs(x, h0)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-14)
    assert h is y
    loss, loss_ref = (y * r).sum(), (ref * r).sum()
    g = torch.autograd.grad(loss, (x, h0), retain_graph=True)
    g_ref = torch.autograd.grad(loss_ref, (x, h0), retain_graph=True)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    loss.backward()
    loss_ref.backward()
    assert_grads_match(ours, theirs)


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_matches_lstmcell(bias):
    torch.manual_seed(0)
    ours = LSTMCell(I, H, bias=bias, forget_bias=None).double()
    theirs = nn.LSTMCell(I, H, bias=bias).double()
    copy_weights(theirs, ours)
    x, h0, c0, rh, rc = inputs(2, (B, I), (B, H), (B, H), (B, H), (B, H))
    y, (h, c) = ours(x, (h0, c0))
    h_ref, c_ref = theirs(x, (h0, c0))
    torch.testing.assert_close(h, h_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(c, c_ref, rtol=1e-12, atol=1e-14)
    assert y is h
    loss = (h * rh).sum() + (c * rc).sum()
    loss_ref = (h_ref * rh).sum() + (c_ref * rc).sum()
    g = torch.autograd.grad(loss, (x, h0, c0), retain_graph=True)
    g_ref = torch.autograd.grad(loss_ref, (x, h0, c0), retain_graph=True)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    loss.backward()
    loss_ref.backward()
    assert_grads_match(ours, theirs)


@pytest.mark.parametrize("bias", [True, False])
def test_gru_after_matches_grucell(bias):
    torch.manual_seed(0)
    ours = GRUCell(I, H, reset="after", bias=bias).double()
    theirs = nn.GRUCell(I, H, bias=bias).double()
    copy_weights(theirs, ours)
    x, h0, r = inputs(3, (B, I), (B, H), (B, H))
    y, h = ours(x, h0)
    ref = theirs(x, h0)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-14)
    loss, loss_ref = (y * r).sum(), (ref * r).sum()
    g = torch.autograd.grad(loss, (x, h0), retain_graph=True)
    g_ref = torch.autograd.grad(loss_ref, (x, h0), retain_graph=True)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    loss.backward()
    loss_ref.backward()
    assert_grads_match(ours, theirs)


def test_lstm_projection_matches_torch_lstm_single_step():
    torch.manual_seed(0)
    ours = LSTMCell(I, H, proj_size=P, forget_bias=None).double()
    theirs = nn.LSTM(I, H, proj_size=P).double()
    names = (*WEIGHTS, "weight_hr")
    copy_weights(theirs, ours, names, suffix="_l0")
    x, h0, c0, rh, rc = inputs(4, (B, I), (B, P), (B, H), (B, P), (B, H))
    y, (h, c) = ours(x, (h0, c0))
    out, (h_n, c_n) = theirs(x[None], (h0[None], c0[None]))
    assert h.shape == (B, P) and c.shape == (B, H)
    torch.testing.assert_close(y, out[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(h, h_n[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(c, c_n[0], rtol=1e-12, atol=1e-14)
    ((h * rh).sum() + (c * rc).sum()).backward()
    ((h_n[0] * rh).sum() + (c_n[0] * rc).sum()).backward()
    assert_grads_match(ours, theirs, names, suffix="_l0")


def test_default_state_is_zeros():
    torch.manual_seed(0)
    for cell in (ElmanCell(I, H), GRUCell(I, H), LSTMCell(I, H, proj_size=P)):
        x = torch.randn(B, I)
        y_default, s_default = cell(x)
        y_zero, s_zero = cell(x, cell.init_state(B))
        torch.testing.assert_close(y_default, y_zero, rtol=0, atol=0)
        zero = cell.init_state(B)
        for part in (zero,) if isinstance(zero, torch.Tensor) else zero:
            assert torch.count_nonzero(part) == 0


def test_forward_equals_project_then_step():
    torch.manual_seed(0)
    for cell in (ElmanCell(I, H), GRUCell(I, H, reset="before"), LSTMCell(I, H, peephole=True)):
        x = torch.randn(B, I)
        state = cell.init_state(B)
        state = tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) else torch.randn_like(state)
        y1, _ = cell(x, state)
        y2, _ = cell.step(cell.project_input(x), state)
        torch.testing.assert_close(y1, y2, rtol=0, atol=0)
