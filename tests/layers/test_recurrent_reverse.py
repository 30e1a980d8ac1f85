"""The reverse direction of a bidirectional layer is a forward layer run on each sequence reversed within its own
length, reversed back; ``merge`` combines both halves by concat, sum or mean."""

import pytest
import torch

from unrolled.layers import Recurrent

I, H = 3, 4
MERGES = ("concat", "sum", "mean")

CELLS = [
    ("elman", {}),
    ("lstm", {}),
    ("lstm", {"proj_size": 2}),
    ("lstm", {"peephole": True}),
    ("gru", {}),
    ("gru_before", {}),
    ("leaky", {"tau": [1.0, 2.0, 3.0, 9.0]}),
    ("jordan", {"output_size": 2}),
    ("ln_lstm", {}),
    ("ln_gru", {"reset": "before"}),
]


def cell_id(case):
    return case[0] + "".join(f"-{k}" for k in case[1])


def flip_within(x, lengths):
    """(B, T, ...) -> each row's first lengths[b] steps reversed; padding left in place (written by hand)."""
    out = x.clone()
    for b, n in enumerate(lengths.tolist()):
        out[b, :n] = x[b, :n].flip(0)
    return out


def flatten(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in flatten(s)]


def forward_copy_of_reverse(bi: Recurrent, name, kw, delays) -> Recurrent:
    uni = Recurrent(name, I, H, delays=delays, backend="loop", **kw).double()
    uni.cells[0].load_state_dict(bi.cells[1].state_dict())
    if bi.extra_delays:
        uni.delay_weights[0].load_state_dict(bi.delay_weights[1].state_dict())
    return uni


@pytest.mark.parametrize("delays", [(1,), (1, 2)], ids=["plain", "delays"])
@pytest.mark.parametrize("case", CELLS, ids=[cell_id(c) for c in CELLS])
def test_reverse_half_is_flip_forward_flip(case, delays):
    name, kw = case
    torch.manual_seed(0)
    bi = Recurrent(name, I, H, bidirectional=True, delays=delays, **kw).double()
    uni = forward_copy_of_reverse(bi, name, kw, delays)
    B, T = 3, 5
    lengths = torch.tensor([5, 2, 4])
    x = torch.randn(B, T, I, dtype=torch.float64)
    out, state = bi(x, lengths=lengths)
    O = bi.cells[1].output_size
    assert out.shape == (B, T, 2 * O)
    y, s = uni(flip_within(x, lengths), lengths=lengths)
    torch.testing.assert_close(out[..., O:], flip_within(y, lengths), rtol=1e-12, atol=1e-13)
    for a, b in zip(flatten(state[1]), flatten(s[0])):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    # and the forward half is not the reverse half (the test would pass vacuously otherwise)
    assert (out[..., :O] - out[..., O:]).abs().max() > 1e-3


@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("name", ["elman", "lstm", "gru", "gru_before"])
def test_reverse_without_lengths_is_plain_flip(name, backend):
    torch.manual_seed(0)
    bi = Recurrent(name, I, H, bidirectional=True, backend=backend).double()
    uni = forward_copy_of_reverse(bi, name, {}, (1,))
    x = torch.randn(2, 4, I, dtype=torch.float64)
    out, state = bi(x)
    y, s = uni(x.flip(1))
    torch.testing.assert_close(out[..., H:], y.flip(1), rtol=1e-12, atol=1e-13)
    for a, b in zip(flatten(state[1]), flatten(s[0])):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("name", ["lstm", "gru_before"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_merge_sum_and_mean(name, backend, with_lengths):
    torch.manual_seed(0)
    models = {m: Recurrent(name, I, H, bidirectional=True, merge=m, backend=backend).double() for m in MERGES}
    for m in ("sum", "mean"):
        models[m].load_state_dict(models["concat"].state_dict())
    x = torch.randn(3, 5, I, dtype=torch.float64)
    lengths = torch.tensor([5, 1, 3]) if with_lengths else None
    cat, cat_state = models["concat"](x, lengths=lengths)
    fwd, rev = cat[..., :H], cat[..., H:]
    total, sum_state = models["sum"](x, lengths=lengths)
    mean, _ = models["mean"](x, lengths=lengths)
    assert total.shape == mean.shape == (3, 5, H)
    torch.testing.assert_close(total, fwd + rev, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(mean, (fwd + rev) / 2, rtol=1e-14, atol=1e-15)
    for a, b in zip(flatten(cat_state), flatten(sum_state)):
        assert torch.equal(a, b)


def test_merge_sum_feeds_h_features_to_the_next_layer():
    torch.manual_seed(0)
    rec = Recurrent("gru", I, H, num_layers=2, bidirectional=True, merge="sum").double()
    assert rec.cells[2].input_size == H and rec.output_size == H
    first = Recurrent("gru", I, H, bidirectional=True, merge="sum").double()
    second = Recurrent("gru", H, H, bidirectional=True, merge="sum").double()
    for i in range(2):
        first.cells[i].load_state_dict(rec.cells[i].state_dict())
        second.cells[i].load_state_dict(rec.cells[2 + i].state_dict())
    x = torch.randn(2, 4, I, dtype=torch.float64)
    torch.testing.assert_close(rec(x)[0], second(first(x)[0])[0], rtol=1e-13, atol=1e-14)
