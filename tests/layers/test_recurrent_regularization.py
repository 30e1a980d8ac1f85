"""Residual connections, inter-layer dropout, recurrent (variational) dropout and zoneout, checked on values
computed by hand."""

import pytest
import torch
import torch.nn.functional as F

from unrolled.layers import Recurrent

I = H = 4


def single_layers(rec: Recurrent, name, **kw):
    """One single-layer loop Recurrent per layer of ``rec``, sharing its weights."""
    layers = []
    for layer in range(rec.num_layers):
        one = Recurrent(name, rec.cells[layer].input_size, H, backend="loop", **kw).double()
        one.cells[0].load_state_dict(rec.cells[layer].state_dict())
        layers.append(one)
    return layers


# --- residual ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("name", ["elman", "gru_before"])
def test_residual_adds_each_layer_input_from_layer_one_on(name, backend):
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, num_layers=3, residual=True, backend=backend).double()
    r0, r1, r2 = single_layers(rec, name)
    x = torch.randn(2, 5, I, dtype=torch.float64)
    o0 = r0(x)[0]  # layer 0 never gets a residual, even though I == H
    o1 = r1(o0)[0] + o0
    o2 = r2(o1)[0] + o1
    torch.testing.assert_close(rec(x)[0], o2, rtol=1e-13, atol=1e-14)
    plain = Recurrent(name, I, H, num_layers=3, backend=backend).double()
    plain.load_state_dict(rec.state_dict())
    torch.testing.assert_close(plain(x)[0], r2(r1(o0)[0])[0], rtol=1e-13, atol=1e-14)


def test_residual_around_a_silent_layer_is_the_identity():
    torch.manual_seed(0)
    rec = Recurrent("elman", 3, H, num_layers=2, residual=True).double()
    with torch.no_grad():
        for p in rec.cells[1].parameters():
            p.zero_()  # layer 1 outputs tanh(0) = 0
    first = Recurrent("elman", 3, H).double()
    first.cells[0].load_state_dict(rec.cells[0].state_dict())
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    assert torch.equal(rec(x)[0], first(x)[0])


def test_residual_with_bidirectional_concat():
    torch.manual_seed(0)
    rec = Recurrent("lstm", I, H, num_layers=2, bidirectional=True, residual=True).double()
    plain = Recurrent("lstm", I, H, num_layers=2, bidirectional=True).double()
    plain.load_state_dict(rec.state_dict())
    first = Recurrent("lstm", I, H, bidirectional=True).double()
    first.cells.load_state_dict(rec.cells[:2].state_dict())
    x = torch.randn(2, 4, I, dtype=torch.float64)
    torch.testing.assert_close(rec(x)[0], plain(x)[0] + first(x)[0], rtol=1e-13, atol=1e-14)


# --- inter-layer dropout -------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["auto", "loop"])
def test_dropout_between_layers_only(backend):
    torch.manual_seed(0)
    p = 0.4
    rec = Recurrent("gru", I, H, num_layers=3, dropout=p, backend=backend).double()
    r0, r1, r2 = single_layers(rec, "gru")
    x = torch.randn(3, 5, I, dtype=torch.float64)
    torch.manual_seed(11)
    y = rec(x)[0]
    torch.manual_seed(11)
    d0 = F.dropout(r0(x)[0], p, training=True)
    d1 = F.dropout(r1(d0)[0], p, training=True)
    torch.testing.assert_close(y, r2(d1)[0], rtol=1e-13, atol=1e-14)
    assert y.ne(rec(x)[0]).any()  # fresh masks each call
    rec.eval()
    y_eval = rec(x)[0]
    assert torch.equal(y_eval, rec(x)[0])
    torch.testing.assert_close(y_eval, r2(r1(r0(x)[0])[0])[0], rtol=1e-13, atol=1e-14)


def test_no_dropout_is_deterministic_in_training_and_single_layer_ignores_dropout():
    torch.manual_seed(0)
    rec = Recurrent("lstm", I, H, num_layers=2).double()
    x = torch.randn(2, 5, I, dtype=torch.float64)
    assert rec.training and torch.equal(rec(x)[0], rec(x)[0])
    one = Recurrent("lstm", I, H, dropout=0.9).double()
    assert torch.equal(one(x)[0], one.eval()(x)[0])


# --- recurrent (variational) dropout ------------------------------------------------------------------------
def accumulator(p: float) -> Recurrent:
    """h_t = relu(x_t + m * h_{t-1}): an Elman cell whose recurrence exposes the dropout mask m."""
    rec = Recurrent("rnn_relu", H, H, recurrent_dropout=p, backend="loop").double()
    cell = rec.cells[0]
    with torch.no_grad():
        cell.weight_ih.copy_(torch.eye(H))
        cell.weight_hh.copy_(torch.eye(H))
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    return rec


def test_recurrent_dropout_mask_is_the_same_at_every_step():
    p = 0.5
    rec = accumulator(p)
    torch.manual_seed(3)
    x = torch.rand(16, 6, H, dtype=torch.float64) + 0.5
    h = rec(x)[0]
    masks = (h[:, 1:] - x[:, 1:]) / h[:, :-1]  # (B, T-1, H): m recovered at each step
    torch.testing.assert_close(masks, masks[:, :1].expand_as(masks), rtol=1e-12, atol=1e-12)
    m = masks[:, 0]
    dropped, kept = m.abs() < 1e-12, (m - 1 / (1 - p)).abs() < 1e-12
    assert bool((dropped | kept).all())
    assert 0.3 < float(kept.double().mean()) < 0.7  # both values occur, in about the right proportion
    assert len({tuple(row.tolist()) for row in kept}) > 4  # one mask per sequence, not one per batch
    rec.eval()  # off in evaluation: the plain running sum
    torch.testing.assert_close(rec(x)[0], x.cumsum(1), rtol=1e-13, atol=1e-13)


def test_recurrent_dropout_on_lstm_touches_only_the_recurrent_product():
    torch.manual_seed(0)
    rec = Recurrent("lstm", I, H, recurrent_dropout=0.5).double()
    ref = Recurrent("lstm", I, H).double()
    with torch.no_grad():
        rec.cells[0].weight_hh.zero_()  # nothing left for the mask to act on: c is not masked
    ref.load_state_dict(rec.state_dict())
    x = torch.randn(3, 6, I, dtype=torch.float64)
    torch.testing.assert_close(rec(x)[0], ref(x)[0], rtol=1e-14, atol=1e-15)
    torch.manual_seed(0)
    full = Recurrent("lstm", I, H, recurrent_dropout=0.5).double()
    full_ref = Recurrent("lstm", I, H).double()
    full_ref.load_state_dict(full.state_dict())
    assert full(x)[0].ne(full_ref(x)[0]).any()
    torch.testing.assert_close(full.eval()(x)[0], full_ref(x)[0], rtol=1e-13, atol=1e-14)


# --- zoneout ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["elman", "lstm", "gru"])
def test_zoneout_in_eval_is_the_expected_update(name):
    p = 0.3
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, zoneout=p).double().eval()
    cell = rec.cells[0]
    x = torch.randn(2, 5, I, dtype=torch.float64)
    state = cell.init_state(2)
    outs = []
    for t in range(5):
        _, new = cell(x[:, t], state)
        if isinstance(new, tuple):
            state = tuple((1 - p) * n + p * o for n, o in zip(new, state))
            outs.append(state[0])
        else:
            state = (1 - p) * new + p * state
            outs.append(state)
    y, final = rec(x)
    torch.testing.assert_close(y, torch.stack(outs, 1), rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(final[0], state, rtol=1e-13, atol=1e-14)


def test_zoneout_in_training_keeps_or_updates_each_unit():
    p = 0.4
    torch.manual_seed(0)
    rec = Recurrent("lstm", I, H, zoneout=p).double()
    cell = rec.cells[0]
    x = torch.randn(40, 6, I, dtype=torch.float64)
    state = tuple(torch.randn(40, H, dtype=torch.float64) for _ in range(2))
    kept = []
    for t in range(6):  # one step per call so that every intermediate state is visible
        _, (new,) = rec(x[:, t : t + 1], (state,))
        _, update = cell(x[:, t], state)
        for old, upd, got in zip(state, update, new):
            assert bool(((old - upd).abs() > 1e-9).all())  # the two candidates are distinguishable
            is_old, is_new = got == old, torch.isclose(got, upd, rtol=1e-12, atol=1e-14)
            assert bool((is_old | is_new).all())
            kept.append(is_old & ~is_new)
        state = new
    frac = float(torch.stack(kept).double().mean())
    assert abs(frac - p) < 0.05
    y_eval = rec.eval()(x)[0]
    assert torch.equal(y_eval, rec(x)[0])


def test_zoneout_and_recurrent_dropout_respect_lengths_in_eval():
    torch.manual_seed(0)
    rec = Recurrent("gru", I, H, zoneout=0.3, recurrent_dropout=0.2, bidirectional=True).double().eval()
    x = torch.randn(2, 5, I, dtype=torch.float64)
    out, state = rec(x, lengths=torch.tensor([5, 3]))
    y, s = rec(x[1:, :3])
    torch.testing.assert_close(out[1:, :3], y, rtol=1e-13, atol=1e-14)
    assert torch.count_nonzero(out[1, 3:]) == 0
    torch.testing.assert_close(state[1][1:], s[1], rtol=1e-13, atol=1e-14)
