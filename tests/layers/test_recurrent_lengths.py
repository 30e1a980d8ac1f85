"""Variable lengths: a padded batch with ``lengths`` equals running each sequence alone, unpadded; outputs past a
sequence's end are exactly zero; padding gets no gradient; ``mask=`` equals ``lengths=``."""

import pytest
import torch

from unrolled.layers import Recurrent
from unrolled.state import map_state

I, H = 3, 4

CELLS = [
    ("elman", {}),
    ("rnn_relu", {}),
    ("lstm", {}),
    ("lstm", {"proj_size": 2}),
    ("lstm", {"peephole": True}),
    ("gru", {}),
    ("gru_before", {}),
    ("leaky", {"tau_range": (1.0, 5.0), "learn_tau": True}),
    ("jordan", {"output_size": 2}),
    ("ln_lstm", {}),
    ("ln_gru", {}),
]
# (bidirectional, delays, num_layers)
LAYOUTS = [(False, (1,), 1), (True, (1,), 2), (False, (1, 3), 2), (True, (1, 2), 1)]


def cell_id(case):
    name, kw = case
    return name + "".join(f"-{k}" for k in kw)


def flatten(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in flatten(s)]


def build(case, layout, backend):
    name, kw = case
    bidir, delays, L = layout
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, num_layers=L, bidirectional=bidir, delays=delays, backend=backend, **kw)
    return rec.double()


# "auto" (torch's fused kernel or the scan path, whichever serves the cell) and the generic "loop"; with delays
# both run the loop, so only once
RUNS = [
    pytest.param(case, layout, backend, id=f"{cell_id(case)}-{lid}-{backend}")
    for case in CELLS
    for layout, lid in zip(LAYOUTS, ["uni", "bi-2layers", "delays-2layers", "bi-delays"])
    for backend in ("auto", "loop")
    if backend == "loop" or layout[1] == (1,)
]


@pytest.mark.parametrize(("case", "layout", "backend"), RUNS)
def test_padded_equals_each_sequence_alone(case, layout, backend):
    rec = build(case, layout, backend)
    if backend == "loop":
        assert not any(rec.uses_fused)
    B, T = 4, 6
    lengths = torch.tensor([6, 3, 1, 5])
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, generator=g, dtype=torch.float64)
    valid = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
    x = torch.where(valid[..., None], x, 50.0 * torch.randn(B, T, I, generator=g, dtype=torch.float64))
    x.requires_grad_(True)
    state0 = map_state(torch.randn_like, rec.init_state(B))
    out, state = rec(x, state0, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        alone_state = map_state(lambda t, b=b: t[b : b + 1], state0)
        y, s = rec(x[b : b + 1, :n].detach(), alone_state)
        torch.testing.assert_close(out[b : b + 1, :n], y, rtol=1e-10, atol=1e-12)
        assert torch.count_nonzero(out[b, n:]) == 0
        for got, want in zip(flatten(state), flatten(s)):
            torch.testing.assert_close(got[b : b + 1], want, rtol=1e-10, atol=1e-12)
    # padding gets exactly zero gradient, real steps do get one
    loss = out.pow(2).sum() + sum(t.pow(2).sum() for t in flatten(state))
    (gx,) = torch.autograd.grad(loss, x)
    assert torch.count_nonzero(gx[~valid]) == 0
    if case[0] != "rnn_relu":  # (relu units may be dead and pass no gradient)
        assert bool((gx[valid].abs().sum(-1) > 0).all())


@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("case", [("lstm", {}), ("gru_before", {}), ("jordan", {})], ids=cell_id)
def test_mask_equals_lengths(case, backend):
    rec = build(case, (True, (1,), 2), backend)
    lengths = torch.tensor([2, 5, 4])
    mask = torch.arange(5)[None, :] < lengths[:, None]
    x = torch.randn(3, 5, I, dtype=torch.float64)
    out_l, state_l = rec(x, lengths=lengths)
    out_m, state_m = rec(x, mask=mask)
    out_mi, _ = rec(x, mask=mask.to(torch.int64))
    assert torch.equal(out_l, out_m) and torch.equal(out_l, out_mi)
    for a, b in zip(flatten(state_l), flatten(state_m)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("backend", ["auto", "loop"])
def test_full_lengths_equal_no_lengths(backend):
    rec = build(("gru", {}), (True, (1,), 2), backend)
    x = torch.randn(3, 5, I, dtype=torch.float64)
    out, state = rec(x)
    for kw in ({"lengths": torch.full((3,), 5)}, {"lengths": [5, 5, 5]}, {"mask": torch.ones(3, 5, dtype=torch.bool)}):
        out2, state2 = rec(x, **kw)
        assert torch.equal(out, out2)
        for a, b in zip(flatten(state), flatten(state2)):
            assert torch.equal(a, b)


def test_lengths_time_major_and_int32():
    torch.manual_seed(0)
    rec = Recurrent("lstm", I, H, batch_first=False, backend="loop").double()
    x = torch.randn(5, 2, I, dtype=torch.float64)
    out, (s,) = rec(x, lengths=torch.tensor([5, 2], dtype=torch.int32))
    y, (s1,) = rec(x[:2, 1:2])
    torch.testing.assert_close(out[:2, 1:2], y, rtol=1e-12, atol=1e-14)
    assert torch.count_nonzero(out[2:, 1]) == 0
    torch.testing.assert_close(s[1][1:2], s1[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("case", CELLS, ids=[cell_id(c) for c in CELLS])
def test_padding_values_never_matter(case, backend):
    """NaN or inf padding gives exactly what zero padding gives: finite outputs, states and gradients."""
    rec = build(case, (True, (1,), 2), backend)
    lengths = torch.tensor([5, 2, 4])
    pad = ~(torch.arange(5)[None, :] < lengths[:, None])  # (B, T)
    x = torch.randn(3, 5, I, dtype=torch.float64)
    x_zero = x.masked_fill(pad[..., None], 0.0).requires_grad_(True)
    x_bad = x.masked_fill(pad[..., None], float("nan"))
    x_bad[0, 4:] = x[0, 4:]
    x_bad[2, 4, 0] = float("inf")
    x_bad.requires_grad_(True)
    results = []
    for inp in (x_zero, x_bad):
        rec.zero_grad()
        out, state = rec(inp, lengths=lengths)
        (out.sum() + sum(t.sum() for t in flatten(state))).backward()
        results.append((out, flatten(state), inp.grad, [p.grad.clone() for p in rec.parameters()]))
    (out0, st0, gx0, gp0), (out1, st1, gx1, gp1) = results
    assert torch.equal(out0, out1)
    assert all(torch.equal(a, b) for a, b in zip(st0, st1))
    assert torch.equal(gx0, gx1) and torch.count_nonzero(gx1[pad]) == 0
    assert all(torch.equal(a, b) for a, b in zip(gp0, gp1))


def test_mask_as_nested_lists_or_0_1_floats_equals_the_boolean_mask():
    rec = build(("gru_before", {}), (True, (1,), 1), "auto")
    lengths = torch.tensor([2, 5, 4])
    mask = torch.arange(5)[None, :] < lengths[:, None]
    x = torch.randn(3, 5, I, dtype=torch.float64)
    out, state = rec(x, mask=mask)
    for other in (mask.tolist(), mask.double(), mask.to(torch.uint8)):
        out2, state2 = rec(x, mask=other)
        assert torch.equal(out, out2)
        assert all(torch.equal(a, b) for a, b in zip(flatten(state), flatten(state2), strict=True))
    assert torch.count_nonzero(out[0, 2:]) == 0 and torch.count_nonzero(out[0, :2]) > 0
