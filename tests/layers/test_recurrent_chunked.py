"""Streaming: running a sequence in chunks and carrying the state equals one full pass (values, final states,
delay history, gradients); ``detach_state`` cuts the graph between chunks (truncated BPTT)."""

import pytest
import torch

from unrolled.layers import Recurrent, detach_state

I, H = 3, 4

CELLS = [
    ("elman", {}),
    ("rnn_relu", {}),
    ("lstm", {}),
    ("lstm", {"proj_size": 2, "peephole": True}),
    ("gru", {}),
    ("gru_before", {}),
    ("leaky", {"tau_range": (1.0, 8.0), "learn_tau": True}),
    ("jordan", {"output_size": 2}),
    ("ln_lstm", {}),
    ("ln_gru", {}),
]


def cell_id(case):
    return case[0] + "".join(f"-{k}" for k in case[1])


def flatten(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in flatten(s)]


RUNS = [
    pytest.param(case, delays, backend, id=f"{cell_id(case)}-{'-'.join(map(str, delays))}-{backend}")
    for case in CELLS
    for delays in ((1,), (1, 3))
    for backend in ("auto", "loop")
    if backend == "loop" or delays == (1,)
]


@pytest.mark.parametrize(("case", "delays", "backend"), RUNS)
def test_chunks_with_carried_state_equal_full_pass(case, delays, backend):
    name, kw = case
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, num_layers=2, delays=delays, residual=True, backend=backend, **kw).double()
    x = torch.randn(2, 7, I, dtype=torch.float64, requires_grad=True)
    full, full_state = rec(x)
    outs, state = [], None
    for a, b in ((0, 2), (2, 3), (3, 6), (6, 7)):  # chunks shorter than the longest delay too
        y, state = rec(x[:, a:b], state)
        outs.append(y)
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=1e-12, atol=1e-13)
    assert len(state) == len(full_state) == 2
    for got, want in zip(flatten(state), flatten(full_state)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    # gradients flow across chunk boundaries exactly as in the full pass
    (g_full,) = torch.autograd.grad(full.pow(2).sum(), x)
    (g_chunks,) = torch.autograd.grad(torch.cat(outs, 1).pow(2).sum(), x)
    torch.testing.assert_close(g_chunks, g_full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "delays"), [("lstm", (1,)), ("gru", (1, 2)), ("jordan", (1,))])
def test_detach_state_cuts_the_graph(name, delays):
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, num_layers=2, delays=delays).double()
    x1 = torch.randn(2, 3, I, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(2, 3, I, dtype=torch.float64, requires_grad=True)
    _, state = rec(x1)
    y_kept, _ = rec(x2, state)
    (g,) = torch.autograd.grad(y_kept.sum(), x1)
    assert g.abs().sum() > 0  # without detaching, the second chunk's loss reaches the first chunk
    detached = detach_state(state)
    assert all(not t.requires_grad for t in flatten(detached))
    assert all(t.data_ptr() == u.data_ptr() for t, u in zip(flatten(detached), flatten(state)))
    y_cut, _ = rec(x2, rec.detach_state(state))
    assert torch.equal(y_cut, y_kept)
    (g,) = torch.autograd.grad(y_cut.sum(), x1, allow_unused=True)
    assert g is None
    (g2,) = torch.autograd.grad(y_cut.sum(), x2)
    assert g2.abs().sum() > 0


@pytest.mark.parametrize("name", ["elman", "lstm", "jordan"])
def test_delay_history_holds_the_last_outputs_within_each_length(name):
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, delays=(1, 3)).double()
    O = rec.cells[0].output_size
    x = torch.randn(3, 5, I, dtype=torch.float64)
    init = rec.init_state(3, dtype=torch.float64)
    hist0 = torch.randn(3, 3, O, dtype=torch.float64)  # y_{-3}, y_{-2}, y_{-1}
    state0 = ((init[0][0], hist0),)
    lengths = torch.tensor([5, 2, 1])
    out, ((_, hist),) = rec(x, state0, lengths=lengths)
    assert hist.shape == (3, 3, O)
    torch.testing.assert_close(hist[0], out[0, 2:5], rtol=0, atol=0)
    torch.testing.assert_close(hist[1], torch.cat([hist0[1, 2:], out[1, :2]]), rtol=0, atol=0)
    torch.testing.assert_close(hist[2], torch.cat([hist0[2, 1:], out[2, :1]]), rtol=0, atol=0)
    # the delay path reads that history: y_{t-3} at t = 0 is hist0[:, 0]
    other = ((init[0][0], hist0.clone().index_fill_(1, torch.tensor([0]), 0.0)),)
    out2, _ = rec(x, other, lengths=lengths)
    assert (out2[:, 0] - out[:, 0]).abs().max() > 1e-4
