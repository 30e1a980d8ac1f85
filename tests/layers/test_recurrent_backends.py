"""The fused kernel path equals the generic loop path on the same parameters, for every fusable configuration;
``backend="auto"`` picks the kernel exactly when it computes the same function."""

import pytest
import torch

from unrolled.cells import LSTMCell
from unrolled.layers import Recurrent
from unrolled.state import map_state

I, H = 3, 4

CELLS = [
    ("elman", {}),
    ("rnn_relu", {}),
    ("lstm", {}),
    ("lstm", {"proj_size": 2}),
    ("gru", {}),
    ("gru", {"bias": False}),
    ("lstm", {"bias": False, "proj_size": 3}),
]
# (num_layers, bidirectional, merge, residual, with lengths, given state, dropout)
LAYOUTS = [
    (1, False, "concat", False, False, False, 0.0),
    (2, True, "concat", False, True, True, 0.0),
    (3, True, "sum", True, True, False, 0.0),
    (2, True, "mean", True, False, True, 0.3),
    (3, False, "concat", True, True, True, 0.5),
]


def cell_id(case):
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


def flatten(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in flatten(s)]


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=[f"layout{i}" for i in range(len(LAYOUTS))])
@pytest.mark.parametrize("case", CELLS, ids=[cell_id(c) for c in CELLS])
def test_fused_equals_loop(case, layout, training):
    name, kw = case
    L, bidir, merge, residual, with_lengths, given_state, dropout = layout
    opts = dict(num_layers=L, bidirectional=bidir, merge=merge, residual=residual, dropout=dropout, **kw)
    torch.manual_seed(0)
    fused = Recurrent(name, I, H, backend="fused", **opts).double().train(training)
    loop = Recurrent(name, I, H, backend="loop", **opts).double().train(training)
    loop.load_state_dict(fused.state_dict())
    assert fused.uses_fused == [True] * L and loop.uses_fused == [False] * L
    B, T = 3, 5
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 2, 4]) if with_lengths else None
    state = None
    if given_state:
        state = map_state(torch.randn_like, fused.init_state(B))
    torch.manual_seed(7)
    out_f, st_f = fused(x, state, lengths=lengths)
    torch.manual_seed(7)  # same dropout masks: both paths draw random numbers only for inter-layer dropout
    out_l, st_l = loop(x, state, lengths=lengths)
    torch.testing.assert_close(out_f, out_l, rtol=1e-11, atol=1e-12)
    for a, b in zip(flatten(st_f), flatten(st_l), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
    R = torch.randn_like(out_f)
    grads_f = torch.autograd.grad((out_f * R).sum() + sum(t.sum() for t in flatten(st_f)), [x, *fused.parameters()])
    grads_l = torch.autograd.grad((out_l * R).sum() + sum(t.sum() for t in flatten(st_l)), [x, *loop.parameters()])
    names = ["input"] + [n for n, _ in fused.named_parameters()]
    for n, a, b in zip(names, grads_f, grads_l, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=n)


@pytest.mark.parametrize(
    ("name", "opts", "fused"),
    [
        ("elman", {}, True),
        ("rnn_relu", {}, True),
        ("elman", {"nonlinearity": "sigmoid"}, False),
        ("lstm", {}, True),
        ("lstm", {"peephole": True}, False),
        ("gru", {}, True),
        ("gru_before", {}, False),
        ("leaky", {}, False),
        ("jordan", {}, False),
        ("ln_lstm", {}, False),
        ("ln_gru", {}, False),
        ("lstm", {"delays": (1, 2)}, False),
        ("lstm", {"recurrent_dropout": 0.1}, False),
        ("gru", {"zoneout": 0.1}, False),
        ("gru", {"dropout": 0.1, "num_layers": 2, "residual": True, "merge": "sum", "bidirectional": True}, True),
    ],
)
def test_auto_uses_the_kernel_only_when_exact(name, opts, fused):
    rec = Recurrent(name, I, H, **opts)
    assert rec.uses_fused == [fused] * rec.num_layers


def test_cell_instance_options_decide_the_backend():
    # a cell instance serves layer 0; the other layers get spawned copies with its options
    rec = Recurrent(LSTMCell(I, H, peephole=True), I, H, num_layers=2)
    assert rec.uses_fused == [False, False]
    rec = Recurrent(LSTMCell(I, H), I, H, num_layers=2)
    assert rec.uses_fused == [True, True]


ALL_CELLS = [
    ("elman", {"nonlinearity": "sigmoid"}),
    ("lstm", {"peephole": True}),
    ("lstm", {"peephole": True, "proj_size": 2}),
    ("gru_before", {}),
    ("leaky", {"tau_range": (1.0, 6.0), "learn_tau": True}),
    ("leaky", {"tau": 3.0, "nonlinearity": "relu"}),
    ("jordan", {"output_size": 2}),
    ("ln_lstm", {}),
    ("ln_gru", {}),
    ("ln_gru", {"reset": "before"}),
]


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("layout", LAYOUTS[1:4], ids=[f"layout{i}" for i in range(1, 4)])
@pytest.mark.parametrize("case", ALL_CELLS, ids=[cell_id(c) for c in ALL_CELLS])
def test_auto_equals_loop_for_the_other_cells(case, layout, training):
    """Whatever "auto" picks for a non-fusable cell (a faster path or the loop) computes the loop's numbers."""
    name, kw = case
    L, bidir, merge, residual, with_lengths, given_state, dropout = layout
    opts = dict(num_layers=L, bidirectional=bidir, merge=merge, residual=residual, dropout=dropout, **kw)
    torch.manual_seed(0)
    auto = Recurrent(name, I, H, **opts).double().train(training)
    loop = Recurrent(name, I, H, backend="loop", **opts).double().train(training)
    loop.load_state_dict(auto.state_dict())
    B, T = 3, 5
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 2, 4]) if with_lengths else None
    state = map_state(torch.randn_like, auto.init_state(B)) if given_state else None
    torch.manual_seed(7)
    out_a, st_a = auto(x, state, lengths=lengths)
    torch.manual_seed(7)
    out_l, st_l = loop(x, state, lengths=lengths)
    torch.testing.assert_close(out_a, out_l, rtol=1e-11, atol=1e-12)
    for a, b in zip(flatten(st_a), flatten(st_l), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
    R = torch.randn_like(out_a)
    grads_a = torch.autograd.grad((out_a * R).sum() + sum(t.sum() for t in flatten(st_a)), [x, *auto.parameters()])
    grads_l = torch.autograd.grad((out_l * R).sum() + sum(t.sum() for t in flatten(st_l)), [x, *loop.parameters()])
    names = ["input"] + [n for n, _ in auto.named_parameters()]
    for n, a, b in zip(names, grads_a, grads_l, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=n)
