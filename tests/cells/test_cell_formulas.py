"""Cells without a torch.nn twin, checked against their equations written out in the test (float64)."""

import math

import pytest
import torch
import torch.nn.functional as F
from _cell_testkit import TIGHT, rand, randomize

from unrolled.cells import (
    ElmanCell,
    GRUCell,
    JordanCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LeakyCell,
    LSTMCell,
    make_cell,
)

B, I, H = 3, 4, 5




# --- Elman ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nonlinearity", ["sigmoid", "tanh", "relu"])
def test_elman_formula(nonlinearity, bias):
    """h_t = phi(b + W h_{t-1} + U x_t) (Goodfellow et al., eq. 10.8); sigmoid has no torch.nn twin to compare to."""
    cell = randomize(ElmanCell(I, H, nonlinearity=nonlinearity, bias=bias).double())
    x, h = rand(1, B, I), rand(2, B, H)
    a = x @ cell.weight_ih.T + h @ cell.weight_hh.T
    if bias:
        a = a + cell.bias_ih + cell.bias_hh
    phi = {"sigmoid": lambda v: 1 / (1 + torch.exp(-v)), "tanh": torch.tanh, "relu": lambda v: v.clamp_min(0)}
    expected = phi[nonlinearity](a)
    y, h1 = cell(x, h)
    torch.testing.assert_close(y, expected, **TIGHT)
    assert h1 is y
    if nonlinearity == "sigmoid":
        assert bool(((y > 0) & (y < 1)).all()) and float(y.detach().std()) > 0.05


# --- GRU ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_gru_reset_before_formula(bias):
    cell = randomize(GRUCell(I, H, reset="before", bias=bias).double())
    x, h = rand(1, B, I), rand(2, B, H)
    W_ir, W_iz, W_in = cell.weight_ih.chunk(3)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3)
    zero = torch.zeros(3 * H, dtype=torch.float64)
    b_ir, b_iz, b_in = (cell.bias_ih if bias else zero).chunk(3)
    b_hr, b_hz, b_hn = (cell.bias_hh if bias else zero).chunk(3)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    expected = (1 - z) * n + z * h
    y, h1 = cell(x, h)
    torch.testing.assert_close(y, expected, **TIGHT)
    assert h1 is y


def test_gru_before_and_after_differ_with_same_weights():
    after = randomize(GRUCell(I, H, reset="after").double())
    before = GRUCell(I, H, reset="before").double()
    before.load_state_dict(after.state_dict())
    x, h = rand(1, B, I), rand(2, B, H)
    assert (after(x, h)[0] - before(x, h)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("cls", [GRUCell, LayerNormGRUCell])
def test_gru_reset_is_resolved_once_and_cannot_drift(cls):
    """The reset placement picks the step function at construction; changing it afterwards would leave the cell
    computing the other formulation than it reports, so it is read-only."""
    cell = randomize(cls(I, H, reset="before").double())
    x, h = rand(1, B, I), rand(2, B, H)
    y = cell(x, h)[0]
    with pytest.raises(AttributeError):
        cell.reset = "after"
    assert cell.reset == "before"
    torch.testing.assert_close(cell(x, h)[0], y, rtol=0, atol=0)
    after = cls(I, H, reset="after").double()
    after.load_state_dict(cell.state_dict())
    assert (after(x, h)[0] - y).abs().max() > 1e-3


# --- LSTM peephole ------------------------------------------------------------------------------------------
def test_lstm_peephole_formula():
    cell = randomize(LSTMCell(I, H, peephole=True).double())
    x, h, c = rand(1, B, I), rand(2, B, H), rand(3, B, H)
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    gi, gf, gg, go = gates.chunk(4, 1)
    i = torch.sigmoid(gi + cell.weight_ci * c)
    f = torch.sigmoid(gf + cell.weight_cf * c)
    c1 = f * c + i * torch.tanh(gg)
    o = torch.sigmoid(go + cell.weight_co * c1)
    h1 = o * torch.tanh(c1)
    y, (hh, cc) = cell(x, (h, c))
    torch.testing.assert_close(cc, c1, **TIGHT)
    torch.testing.assert_close(hh, h1, **TIGHT)
    torch.testing.assert_close(y, h1, **TIGHT)


def test_lstm_forget_bias_initialisation():
    torch.manual_seed(0)
    cell = LSTMCell(I, H)
    assert torch.equal(cell.bias_ih[H : 2 * H], torch.ones(H))
    assert torch.equal(cell.bias_hh[H : 2 * H], torch.zeros(H))
    k = 1 / math.sqrt(H)
    others = torch.cat([cell.bias_ih[:H], cell.bias_ih[2 * H :], cell.weight_ih.flatten(), cell.weight_hh.flatten()])
    assert others.abs().max() <= k and others.abs().max() > k / 2
    cell = LSTMCell(I, H, forget_bias=2.5)
    assert torch.equal(cell.bias_ih[H : 2 * H], torch.full((H,), 2.5))
    torch_init = LSTMCell(I, H, forget_bias=None)
    assert torch_init.bias_ih[H : 2 * H].abs().max() <= k
    assert torch.count_nonzero(torch_init.bias_hh[H : 2 * H]) == H


def test_layernorm_lstm_forget_bias_initialisation():
    cell = LayerNormLSTMCell(I, H)
    expected = torch.zeros(4 * H)
    expected[H : 2 * H] = 1.0
    assert torch.equal(cell.ln_ih.bias, expected)
    assert torch.equal(cell.ln_ih.weight, torch.ones(4 * H))


# --- leaky integrators ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
def test_leaky_with_tau_one_is_elman(nonlinearity):
    leaky = randomize(LeakyCell(I, H, tau=1.0, nonlinearity=nonlinearity).double())
    elman = ElmanCell(I, H, nonlinearity=nonlinearity).double()
    elman.load_state_dict({k: v for k, v in leaky.state_dict().items() if k.startswith(("weight", "bias"))})
    x, s = rand(1, B, I), rand(2, B, H)
    torch.testing.assert_close(leaky(x, s)[0], elman(x, s)[0], **TIGHT)


@pytest.mark.parametrize("tau", [3.0, [1.0, 2.0, 4.0, 8.0, 100.0]])
def test_leaky_formula(tau):
    cell = randomize(LeakyCell(I, H, tau=tau).double())
    x, s = rand(1, B, I), rand(2, B, H)
    taus = torch.as_tensor(tau, dtype=torch.float64).expand(H)
    torch.testing.assert_close(cell.tau, taus, rtol=0, atol=0)
    a = torch.tanh(x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh + s @ cell.weight_hh.T)
    expected = (1 - 1 / taus) * s + a / taus
    y, s1 = cell(x, s)
    torch.testing.assert_close(y, expected, **TIGHT)
    assert s1 is y


def test_leaky_learned_tau_starts_at_init_stays_above_one_and_gets_gradient():
    cell = LeakyCell(I, H, tau=[1.5, 2.0, 4.0, 10.0, 50.0], learn_tau=True).double()
    torch.testing.assert_close(
        cell.tau, torch.tensor([1.5, 2.0, 4.0, 10.0, 50.0], dtype=torch.float64), rtol=1e-6, atol=1e-9
    )
    assert "tau_raw" in dict(cell.named_parameters())
    x, s = rand(1, B, I), rand(2, B, H)
    y, _ = cell(x, s)
    y.sum().backward()
    g = cell.tau_raw.grad
    assert g is not None and bool((g != 0).all())
    # finite-difference check of d(sum y)/d tau_raw for one unit
    eps = 1e-6
    with torch.no_grad():
        cell.tau_raw[2] += eps
        up = cell(x, s)[0].sum()
        cell.tau_raw[2] -= 2 * eps
        down = cell(x, s)[0].sum()
        cell.tau_raw[2] += eps
    assert abs(float((up - down) / (2 * eps)) - float(g[2])) < 1e-7
    # any raw value, however negative, keeps tau >= 1
    with torch.no_grad():
        cell.tau_raw.copy_(torch.tensor([-1e3, -50.0, -1.0, 0.0, 3.0]))
    assert bool((cell.tau >= 1.0).all())
    torch.testing.assert_close(cell.tau[0], torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-12)


def test_leaky_learned_tau_one_is_representable():
    cell = LeakyCell(I, H, tau=1.0, learn_tau=True)
    tau = cell.tau.detach()
    assert bool((tau >= 1.0).all()) and float((tau - 1).abs().max()) < 1e-5


def test_leaky_tau_range_samples_inside_the_range_log_uniformly():
    torch.manual_seed(0)
    lo, hi = 2.0, 200.0
    cell = LeakyCell(2, 4000, tau_range=(lo, hi))
    tau = cell.tau
    assert float(tau.min()) >= lo and float(tau.max()) <= hi
    logs = tau.log()
    mid = (math.log(lo) + math.log(hi)) / 2
    assert abs(float(logs.mean()) - mid) < 0.05 * (math.log(hi) - mid)
    # log-uniform: a quarter of the units in each quarter of the log range
    q = (logs - math.log(lo)) / (math.log(hi) - math.log(lo))
    counts = torch.histc(q, bins=4, min=0, max=1)
    assert bool(((counts - 1000).abs() < 120).all())
    learned = LeakyCell(2, 50, tau_range=(lo, hi), learn_tau=True)
    learned_tau = learned.tau.detach()
    assert float(learned_tau.min()) >= lo - 1e-4 and float(learned_tau.max()) <= hi + 1e-3
    fixed = LeakyCell(2, 3, tau_range=(5.0, 5.0))
    torch.testing.assert_close(fixed.tau, torch.full((3,), 5.0))


# --- Jordan --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("O", "phi", "psi"), [(2, "tanh", "identity"), (5, "relu", "tanh"), (3, "tanh", "sigmoid")])
def test_jordan_formula(O, phi, psi):
    cell = randomize(JordanCell(I, H, output_size=O, nonlinearity=phi, output_nonlinearity=psi).double())
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda v: v}
    x, y_prev = rand(1, B, I), rand(2, B, O)
    h = acts[phi](cell.bias_ih + cell.bias_hh + y_prev @ cell.weight_hh.T + x @ cell.weight_ih.T)
    expected = acts[psi](cell.bias_ho + h @ cell.weight_ho.T)
    y, state = cell(x, y_prev)
    assert y.shape == (B, O)
    torch.testing.assert_close(y, expected, **TIGHT)
    assert state is y
    forced = cell.force(state, y_prev)
    assert forced is y_prev


def test_jordan_output_size_defaults_to_hidden():
    cell = JordanCell(I, H)
    assert cell.output_size == H and cell.init_state(2).shape == (2, H)


# --- LayerNorm cells -----------------------------------------------------------------------------------------
def test_layernorm_lstm_formula():
    cell = randomize(LayerNormLSTMCell(I, H, eps=1e-5).double())
    x, h, c = rand(1, B, I), rand(2, B, H), rand(3, B, H)
    ln = lambda v, m: F.layer_norm(v, v.shape[-1:], m.weight, m.bias, 1e-5)  # noqa: E731
    gates = ln(x @ cell.weight_ih.T, cell.ln_ih) + ln(h @ cell.weight_hh.T, cell.ln_hh)
    gi, gf, gg, go = gates.chunk(4, 1)
    c1 = torch.sigmoid(gf) * c + torch.sigmoid(gi) * torch.tanh(gg)
    h1 = torch.sigmoid(go) * torch.tanh(ln(c1, cell.ln_c))
    y, (hh, cc) = cell(x, (h, c))
    torch.testing.assert_close(cc, c1, **TIGHT)
    torch.testing.assert_close(hh, h1, **TIGHT)
    assert cell.ln_hh.bias is None


@pytest.mark.parametrize("reset", ["after", "before"])
def test_layernorm_gru_formula(reset):
    cell = randomize(LayerNormGRUCell(I, H, reset=reset).double())
    x, h = rand(1, B, I), rand(2, B, H)
    ln = lambda v, m: F.layer_norm(v, v.shape[-1:], m.weight, m.bias, 1e-5)  # noqa: E731
    xr, xz, xn = ln(x @ cell.weight_ih.T, cell.ln_ih).chunk(3, 1)
    W_rz, W_n = cell.weight_hh[: 2 * H], cell.weight_hh[2 * H :]
    hr, hz = ln(h @ W_rz.T, cell.ln_hrz).chunk(2, 1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    if reset == "after":
        n = torch.tanh(xn + r * ln(h @ W_n.T, cell.ln_hn))
    else:
        n = torch.tanh(xn + ln((r * h) @ W_n.T, cell.ln_hn))
    expected = (1 - z) * n + z * h
    torch.testing.assert_close(cell(x, h)[0], expected, **TIGHT)
    assert cell.ln_hrz.bias is None


# --- registry ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "cls", "attrs"),
    [
        ("elman", ElmanCell, {"nonlinearity": "tanh"}),
        ("rnn", ElmanCell, {"nonlinearity": "tanh"}),
        ("rnn_relu", ElmanCell, {"nonlinearity": "relu"}),
        ("lstm", LSTMCell, {"peephole": False}),
        ("gru", GRUCell, {"reset": "after"}),
        ("gru_before", GRUCell, {"reset": "before"}),
        ("leaky", LeakyCell, {}),
        ("jordan", JordanCell, {}),
        ("ln_lstm", LayerNormLSTMCell, {}),
        ("ln_gru", LayerNormGRUCell, {"reset": "after"}),
    ],
)
def test_make_cell_builds_the_named_cell(name, cls, attrs):
    cell = make_cell(name, I, H)
    assert type(cell) is cls and (cell.input_size, cell.hidden_size) == (I, H)
    for k, v in attrs.items():
        assert getattr(cell, k) == v


def test_make_cell_kwargs_override_defaults_and_spawn_keeps_options():
    cell = make_cell("rnn_relu", I, H, nonlinearity="tanh", bias=False)
    assert cell.nonlinearity == "tanh" and cell.bias_ih is None
    child = make_cell("lstm", I, H, proj_size=2, peephole=True).spawn(7)
    assert (child.input_size, child.proj_size, child.peephole) == (7, 2, True)
    assert child.weight_ih.shape == (4 * H, 7) and child.weight_hh.shape == (4 * H, 2)
