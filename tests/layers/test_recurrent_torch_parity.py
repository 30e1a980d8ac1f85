"""``Recurrent.from_torch`` vs torch.nn.RNN / LSTM / GRU: outputs, final states and every gradient, on both
backends (the fused kernel and the generic loop), in float64; ``to_torch`` round trips exactly."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from unrolled.layers import Recurrent

I, H, P = 3, 4, 2
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")

KINDS = {
    "rnn_tanh": lambda **kw: nn.RNN(I, H, nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: nn.RNN(I, H, nonlinearity="relu", **kw),
    "lstm": lambda **kw: nn.LSTM(I, H, **kw),
    "lstm_proj": lambda **kw: nn.LSTM(I, H, proj_size=P, **kw),
    "gru": lambda **kw: nn.GRU(I, H, **kw),
}

# (num_layers, bidirectional, batch_first, with lengths, bias, given initial state)
CONFIGS = [
    (1, False, True, False, True, False),
    (1, False, False, True, True, True),
    (2, True, True, True, True, True),
    (3, False, True, True, False, False),
    (3, True, False, False, True, True),
    (2, True, False, True, False, False),
]


def torch_run(module, x, hx, lengths):
    if lengths is None:
        return module(x, hx)
    packed = pack_padded_sequence(x, lengths, batch_first=module.batch_first, enforce_sorted=False)
    out, h = module(packed, hx)
    out, _ = pad_packed_sequence(
        out, batch_first=module.batch_first, total_length=x.shape[1 if module.batch_first else 0]
    )
    return out, h


def param_pairs(rec, module):
    for i, cell in enumerate(rec.cells):
        layer, direction = divmod(i, rec.num_directions)
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for name in NAMES:
            theirs = getattr(module, name + suffix, None)
            ours = getattr(cell, name, None)
            assert (theirs is None) == (ours is None), (name, suffix)
            if theirs is not None:
                yield f"{name}{suffix}", ours, theirs


@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("config", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_matches_torch(kind, config, backend):
    L, bidir, batch_first, with_lengths, bias, given_state = config
    torch.manual_seed(0)
    module = KINDS[kind](num_layers=L, bidirectional=bidir, batch_first=batch_first, bias=bias).double()
    rec = Recurrent.from_torch(module, backend=backend)
    assert rec.uses_fused == [backend == "auto"] * L
    D = 2 if bidir else 1
    B, T = 4, 5
    g = torch.Generator().manual_seed(1)
    x = torch.randn((B, T, I) if batch_first else (T, B, I), generator=g, dtype=torch.float64)
    x.requires_grad_(True)
    lengths = torch.tensor([5, 2, 4, 1]) if with_lengths else None
    out_size = P if kind == "lstm_proj" else H
    hx = None
    if given_state:
        h0 = torch.randn(L * D, B, out_size, generator=g, dtype=torch.float64, requires_grad=True)
        hx = (
            (h0, torch.randn(L * D, B, H, generator=g, dtype=torch.float64, requires_grad=True))
            if "lstm" in kind
            else h0
        )
    ref_out, ref_state = torch_run(module, x, hx, lengths)
    state = None if hx is None else rec.state_from_torch(hx)
    out, new_state = rec(x, state, lengths=lengths)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    got = rec.state_to_torch(new_state)
    ref_parts = ref_state if isinstance(ref_state, tuple) else (ref_state,)
    got_parts = got if isinstance(got, tuple) else (got,)
    assert len(got_parts) == len(ref_parts)
    for a, b in zip(got_parts, ref_parts):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    if with_lengths:  # padding is exactly zero
        t_axis = 1 if batch_first else 0
        for b, n in enumerate(lengths.tolist()):
            pad = out.narrow(1 - t_axis, b, 1).narrow(t_axis, n, T - n)
            assert torch.count_nonzero(pad) == 0

    # every gradient: input, initial state, each parameter
    R = torch.randn(out.shape, generator=g, dtype=torch.float64)
    Rs = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in ref_parts]

    def loss(o, parts):
        return (o * R).sum() + sum((p * r).sum() for p, r in zip(parts, Rs))

    wrt = [x] + ([] if hx is None else list(hx) if isinstance(hx, tuple) else [hx])
    pairs = list(param_pairs(rec, module))
    ours = torch.autograd.grad(loss(out, got_parts), wrt + [p for _, p, _ in pairs])
    theirs = torch.autograd.grad(loss(ref_out, ref_parts), wrt + [q for _, _, q in pairs])
    names = ["input", "h0", "c0"][: len(wrt)] + [n for n, _, _ in pairs]
    for name, a, b in zip(names, ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("L", "bidir", "bias"), [(1, False, True), (2, True, False), (3, True, True)])
def test_to_torch_round_trip_is_exact(kind, L, bidir, bias):
    torch.manual_seed(0)
    module = KINDS[kind](num_layers=L, bidirectional=bidir, bias=bias, batch_first=False, dropout=0.25)
    module.eval()
    rec = Recurrent.from_torch(module)
    assert (rec.batch_first, rec.dropout, rec.training) == (False, 0.25, False)
    back = rec.to_torch()
    assert type(back) is type(module)
    for attr in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"):
        assert getattr(back, attr) == getattr(module, attr), attr
    assert getattr(back, "proj_size", 0) == getattr(module, "proj_size", 0)
    assert getattr(back, "nonlinearity", None) == getattr(module, "nonlinearity", None)
    assert back.training is False
    sd, sd_back = module.state_dict(), back.state_dict()
    assert list(sd) == list(sd_back)
    for k in sd:
        assert torch.equal(sd[k], sd_back[k]), k
    # and a Recurrent built from scratch survives to_torch -> from_torch bit for bit
    fresh = Recurrent.from_torch(back)
    for (_, p), (_, q) in zip(rec.named_parameters(), fresh.named_parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("kind", ["elman", "lstm", "gru"])
def test_recurrent_to_torch_gives_the_same_function(kind):
    torch.manual_seed(0)
    rec = Recurrent(kind, I, H, num_layers=2, bidirectional=True, backend="loop").double()
    module = rec.to_torch()
    x = torch.randn(2, 6, I, dtype=torch.float64)
    out, state = rec(x)
    ref_out, ref_state = module(x)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    got = rec.state_to_torch(state)
    for a, b in zip(
        got if isinstance(got, tuple) else (got,), ref_state if isinstance(ref_state, tuple) else (ref_state,)
    ):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(rec.state_to_torch(rec.state_from_torch(ref_state))[0], ref_state[0], rtol=0, atol=0)


def test_from_torch_keeps_device_dtype_and_training_mode():
    module = nn.GRU(I, H, num_layers=2, dropout=0.5).double()
    rec = Recurrent.from_torch(module)
    assert all(p.dtype == torch.float64 for p in rec.parameters())
    assert rec.training and rec.dropout == 0.5 and rec.batch_first is False
