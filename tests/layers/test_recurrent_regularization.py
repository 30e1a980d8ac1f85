"""Residual connections, inter-layer dropout, recurrent (variational) dropout and zoneout, checked on values
computed by hand."""

import pytest
import torch
import torch.nn.functional as F

from unrolled.layers import Recurrent
from unrolled.state import map_state

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


# --- recurrent dropout through the layer: the cell's step_with_dropout, one fixed mask, every step -----------
class FixedMask:
    """Stands in for ``variational_mask``: records each mask it hands out (drawn as the real one would be)."""

    def __init__(self, real):
        self.real, self.masks = real, []

    def __call__(self, batch, size, p, like):
        m = self.real(batch, size, p, like)
        self.masks.append(m)
        return m


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("elman", {}),
        ("lstm", {"proj_size": 2, "peephole": True}),
        ("gru", {}),
        ("gru_before", {}),
        ("leaky", {"tau": [1.0, 2.0, 3.0, 8.0]}),
        ("ln_lstm", {}),
        ("ln_gru", {"reset": "before"}),
        ("jordan", {"output_size": 3}),
    ],
)
def test_recurrent_dropout_in_training_is_step_with_dropout_with_one_mask(name, kw, monkeypatch):
    import unrolled.layers.recurrent as recurrent_module

    spy = FixedMask(recurrent_module.variational_mask)
    monkeypatch.setattr(recurrent_module, "variational_mask", spy)
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, recurrent_dropout=0.5, **kw).double()
    cell = rec.cells[0]
    x = torch.randn(6, 5, I, dtype=torch.float64)
    state0 = cell.init_state(6)
    state0 = tuple(torch.randn_like(t) for t in state0) if isinstance(state0, tuple) else torch.randn_like(state0)
    y, (final,) = rec(x, (state0,))
    (m,) = spy.masks
    assert m.shape == (6, cell.output_size) and bool((m == 0).any()) and bool((m == 2).any())
    s, outs = state0, []
    for t in range(5):
        out, s = cell.step_with_dropout(cell.project_input(x[:, t]), s, m)
        outs.append(out)
    torch.testing.assert_close(y, torch.stack(outs, 1), rtol=1e-13, atol=1e-14)
    for a, b in zip(final if isinstance(final, tuple) else (final,), s if isinstance(s, tuple) else (s,)):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", ["gru", "gru_before", "ln_gru"])
def test_recurrent_dropout_keeps_a_saturated_update_gate_gru_at_its_state(name):
    """z = 1 means h_t = h_{t-1} (Cho et al. 2014): dropout on the recurrent products must not change that. Masking
    the whole carried state would multiply h by the mask at every step: 2^10 = 1024 or 0 after ten steps."""
    torch.manual_seed(0)
    p, B, T = 0.5, 8, 10
    rec = Recurrent(name, I, H, recurrent_dropout=p).double()
    cell = rec.cells[0]
    with torch.no_grad():
        if name == "ln_gru":
            cell.ln_ih.bias[H : 2 * H].fill_(30.0)  # the z shift
        else:
            cell.bias_hh[H : 2 * H].fill_(30.0)  # b_hz
    h0 = torch.ones(B, H, dtype=torch.float64)
    x = torch.zeros(B, T, I, dtype=torch.float64)
    torch.manual_seed(1)
    assert rec.training
    y, (h,) = rec(x, (h0,))
    torch.testing.assert_close(y, torch.ones(B, T, H, dtype=torch.float64), rtol=0, atol=1e-9)
    torch.testing.assert_close(h, h0, rtol=0, atol=1e-9)
    # the mask was drawn and is not all ones: it did reach the products
    torch.manual_seed(1)
    m = torch.bernoulli(torch.full((B, H), 1 - p, dtype=torch.float64)) / (1 - p)
    assert bool((m == 0).any())
    assert (cell.step_with_dropout(cell.project_input(x[:, 0]), h0, m)[0] - h0).abs().max() < 1e-9


# --- zoneout in training: a fresh mask at every step -----------------------------------------------------------
def test_zoneout_in_training_draws_a_fresh_mask_at_every_step():
    p, B, T = 0.5, 32, 6
    torch.manual_seed(0)
    rec = Recurrent("gru", I, H, zoneout=p).double()
    cell = rec.cells[0]
    x = torch.randn(B, T, I, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    y, _ = rec(x, (h0,))  # one call over all T steps
    prev, kept = h0, []
    for t in range(T):
        update = cell(x[:, t], prev)[0]
        assert bool(((update - prev).abs() > 1e-9).all())  # the two candidates are distinguishable
        is_old, is_new = y[:, t] == prev, torch.isclose(y[:, t], update, rtol=1e-12, atol=1e-14)
        assert bool((is_old ^ is_new).all())
        kept.append(is_old)
        prev = y[:, t]
    kept = torch.stack(kept)  # (T, B, H)
    for t in range(1, T):
        assert not torch.equal(kept[t], kept[0]), f"step {t} reused step 0's zoneout mask"
    assert abs(float(kept.double().mean()) - p) < 0.06


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_zoneout_in_training_equals_a_hand_loop_with_the_same_masks(name):
    from unrolled.layers.regularization import zoneout_masks

    p, B, T = 0.3, 5, 7
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, zoneout=p).double()
    cell = rec.cells[0]
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    zero = cell.init_state(B)
    parts = [torch.randn_like(t) for t in (zero if isinstance(zero, tuple) else (zero,))]
    state0 = tuple(parts) if isinstance(zero, tuple) else parts[0]
    torch.manual_seed(3)
    y, (final,) = rec(x, (state0,))
    torch.manual_seed(3)
    masks = zoneout_masks(T, [t.shape for t in parts], p, x)  # one (T, B, H) mask per state part
    s, outs = tuple(parts), []
    for t in range(T):
        _, new = cell(x[:, t], s if isinstance(zero, tuple) else s[0])
        new = new if isinstance(new, tuple) else (new,)
        s = tuple(torch.where(m[t], old, n) for m, old, n in zip(masks, s, new))
        outs.append(s[0])
    torch.testing.assert_close(y, torch.stack(outs, 1), rtol=1e-13, atol=1e-14)
    for a, b in zip(final if isinstance(final, tuple) else (final,), s, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-14)
    (g_rec,) = torch.autograd.grad(y.square().sum(), x)
    (g_hand,) = torch.autograd.grad(torch.stack(outs, 1).square().sum(), x)
    torch.testing.assert_close(g_rec, g_hand, rtol=1e-12, atol=1e-13)


# --- padded equals unpadded in training, with zoneout and recurrent dropout (the same masks) ------------------
class MaskReplay:
    """Records the regularisers' masks of a padded batch, then hands each sequence run alone its own row."""

    def __init__(self, variational, zoneout):
        self.real_variational, self.real_zoneout = variational, zoneout
        self.variational, self.zoneout = [], []
        self.row = None

    def replay(self, row):
        self.row, self.i_var, self.i_zone = row, 0, 0

    def variational_mask(self, batch, size, p, like):
        if self.row is None:
            self.variational.append(self.real_variational(batch, size, p, like))
            return self.variational[-1]
        self.i_var += 1
        return self.variational[self.i_var - 1][self.row : self.row + 1]

    def zoneout_masks(self, T, shapes, p, like):
        if self.row is None:
            self.zoneout.append(self.real_zoneout(T, shapes, p, like))
            return self.zoneout[-1]
        self.i_zone += 1
        return [m[:T, self.row : self.row + 1] for m in self.zoneout[self.i_zone - 1]]


def flatten(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in flatten(s)]


@pytest.mark.parametrize(("bidirectional", "num_layers"), [(False, 1), (True, 2)], ids=["uni", "bi-2layers"])
@pytest.mark.parametrize(
    ("name", "kw"),
    [("gru", {}), ("gru_before", {}), ("lstm", {"proj_size": 2}), ("leaky", {"tau_range": (1.0, 5.0)}), ("ln_gru", {})],
)
def test_padded_equals_each_sequence_alone_in_training(name, kw, bidirectional, num_layers, monkeypatch):
    import unrolled.layers.recurrent as recurrent_module
    import unrolled.layers.unroll as unroll_module

    replay = MaskReplay(recurrent_module.variational_mask, unroll_module.zoneout_masks)
    monkeypatch.setattr(recurrent_module, "variational_mask", replay.variational_mask)
    monkeypatch.setattr(unroll_module, "zoneout_masks", replay.zoneout_masks)
    torch.manual_seed(0)
    rec = Recurrent(
        name, I, H, num_layers=num_layers, bidirectional=bidirectional, zoneout=0.3, recurrent_dropout=0.4, **kw
    ).double()
    assert rec.training
    B, T = 4, 6
    lengths = torch.tensor([6, 3, 1, 5])
    valid = torch.arange(T)[None, :] < lengths[:, None]
    x = torch.randn(B, T, I, dtype=torch.float64)
    x = torch.where(valid[..., None], x, 50.0).requires_grad_(True)
    state0 = map_state(torch.randn_like, rec.init_state(B))
    out, state = rec(x, state0, lengths=lengths)
    n_masks = (len(replay.variational), len(replay.zoneout))
    assert n_masks == (len(rec.cells), len(rec.cells))
    for b, n in enumerate(lengths.tolist()):
        replay.replay(b)
        alone0 = map_state(lambda t, b=b: t[b : b + 1], state0)
        y, s = rec(x[b : b + 1, :n].detach(), alone0)
        assert (replay.i_var, replay.i_zone) == n_masks
        torch.testing.assert_close(out[b : b + 1, :n], y, rtol=1e-10, atol=1e-12)
        assert torch.count_nonzero(out[b, n:]) == 0
        for got, want in zip(flatten(state), flatten(s), strict=True):
            torch.testing.assert_close(got[b : b + 1], want, rtol=1e-10, atol=1e-12)
    (gx,) = torch.autograd.grad(out.square().sum() + sum(t.square().sum() for t in flatten(state)), x)
    assert torch.count_nonzero(gx[~valid]) == 0  # (a valid step may get none too: all its units zoned out)
