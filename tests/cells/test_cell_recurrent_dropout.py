"""``step_with_dropout``: variational recurrent dropout (Gal & Ghahramani 2016) masks the fed-back value only where
it enters a recurrent matrix product. Each cell is checked against its step written out by hand with the mask in
exactly those places (float64), and the interpolating cells (GRU, layer-norm GRU, leaky) against the old, wrong
"mask the whole state, then step", which must differ."""

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
)

B, I, H = 4, 3, 5




def random_state(cell, seed):
    zero = cell.init_state(B)
    if isinstance(zero, tuple):
        return tuple(rand(seed + k, *t.shape) for k, t in enumerate(zero))
    return rand(seed, *zero.shape)


def dropout_mask(size, p=0.5, seed=9):
    """A fixed mask with both values 0 and 1/(1-p) in every row."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(B, size, generator=g) < 1 - p
    keep[:, 0], keep[:, 1] = True, False
    return keep.double() / (1 - p)


def ln(v, m):
    return F.layer_norm(v, v.shape[-1:], m.weight, m.bias, m.eps)


# --- the hand-written steps: mask m only on the input of each recurrent product ------------------------------
def elman(cell, x, h, m):
    return torch.sigmoid(x @ cell.weight_ih.T + cell.bias_ih + (h * m) @ cell.weight_hh.T + cell.bias_hh)


def lstm(cell, x, state, m):
    h, c = state
    gates = x @ cell.weight_ih.T + cell.bias_ih + (h * m) @ cell.weight_hh.T + cell.bias_hh
    gi, gf, gg, go = gates.chunk(4, 1)
    i = torch.sigmoid(gi + cell.weight_ci * c)  # peepholes read c, which is never masked
    f = torch.sigmoid(gf + cell.weight_cf * c)
    c1 = f * c + i * torch.tanh(gg)
    o = torch.sigmoid(go + cell.weight_co * c1)
    return (o * torch.tanh(c1)) @ cell.weight_hr.T, c1


def gru(cell, x, h, m):
    W_ir, W_iz, W_in = cell.weight_ih.chunk(3)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.chunk(3)
    hm = h * m
    r = torch.sigmoid(x @ W_ir.T + b_ir + hm @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + hm @ W_hz.T + b_hz)
    if cell.reset == "after":
        n = torch.tanh(x @ W_in.T + b_in + r * (hm @ W_hn.T + b_hn))
    else:
        n = torch.tanh(x @ W_in.T + b_in + (r * hm) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h  # the interpolation reads h unmasked


def ln_lstm(cell, x, state, m):
    h, c = state
    gates = ln(x @ cell.weight_ih.T, cell.ln_ih) + ln((h * m) @ cell.weight_hh.T, cell.ln_hh)
    gi, gf, gg, go = gates.chunk(4, 1)
    c1 = torch.sigmoid(gf) * c + torch.sigmoid(gi) * torch.tanh(gg)
    return torch.sigmoid(go) * torch.tanh(ln(c1, cell.ln_c)), c1


def ln_gru(cell, x, h, m):
    xr, xz, xn = ln(x @ cell.weight_ih.T, cell.ln_ih).chunk(3, 1)
    W_rz, W_n = cell.weight_hh[: 2 * H], cell.weight_hh[2 * H :]
    hm = h * m
    hr, hz = ln(hm @ W_rz.T, cell.ln_hrz).chunk(2, 1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    if cell.reset == "after":
        n = torch.tanh(xn + r * ln(hm @ W_n.T, cell.ln_hn))
    else:
        n = torch.tanh(xn + ln((r * hm) @ W_n.T, cell.ln_hn))
    return (1 - z) * n + z * h


def leaky(cell, x, s, m):
    a = torch.tanh(x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh + (s * m) @ cell.weight_hh.T)
    return (1 - 1 / cell.tau) * s + a / cell.tau  # the leak reads s unmasked


def jordan(cell, x, y, m):
    h = torch.tanh(cell.bias_ih + cell.bias_hh + (y * m) @ cell.weight_hh.T + x @ cell.weight_ih.T)
    return torch.tanh(cell.bias_ho + h @ cell.weight_ho.T)


# (build, hand step, True when h_{t-1} is read outside the products too, so masking the whole state is wrong)
CASES = {
    "elman_sigmoid": (lambda: ElmanCell(I, H, nonlinearity="sigmoid"), elman, False),
    "lstm_peephole_proj": (lambda: LSTMCell(I, H, proj_size=2, peephole=True), lstm, False),
    "gru_after": (lambda: GRUCell(I, H), gru, True),
    "gru_before": (lambda: GRUCell(I, H, reset="before"), gru, True),
    "ln_lstm": (lambda: LayerNormLSTMCell(I, H), ln_lstm, False),
    "ln_gru_after": (lambda: LayerNormGRUCell(I, H), ln_gru, True),
    "ln_gru_before": (lambda: LayerNormGRUCell(I, H, reset="before"), ln_gru, True),
    "leaky": (lambda: LeakyCell(I, H, tau=[1.0, 1.5, 2.0, 4.0, 9.0]), leaky, True),
    "jordan": (lambda: JordanCell(I, H, output_size=3, output_nonlinearity="tanh"), jordan, False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_step_with_dropout_masks_only_the_product_input(name):
    build, hand, interpolates = CASES[name]
    cell = randomize(build().double())
    x = rand(1, B, I)
    state = random_state(cell, seed=2)
    m = dropout_mask(cell.output_size)
    y, new = cell.step_with_dropout(cell.project_input(x), state, m)
    expected = hand(cell, x, state, m)
    expected = expected if isinstance(expected, tuple) else (expected,)
    torch.testing.assert_close(y, expected[0], **TIGHT)
    for got, want in zip(new if isinstance(new, tuple) else (new,), expected, strict=True):
        torch.testing.assert_close(got, want, **TIGHT)
    # the mask matters: without it, the step is a different one
    assert (cell.step(cell.project_input(x), state)[0] - y).abs().max() > 1e-3
    # "mask the whole state, then step" (the base class default) is right exactly for the non-interpolating cells
    h = state[0] if isinstance(state, tuple) else state
    whole = (h * m, *state[1:]) if isinstance(state, tuple) else h * m
    y_whole = cell.step(cell.project_input(x), whole)[0]
    if interpolates:
        assert (y_whole - y).abs().max() > 1e-3
    else:
        torch.testing.assert_close(y_whole, y, **TIGHT)


@pytest.mark.parametrize("name", list(CASES))
def test_step_with_dropout_with_a_mask_of_ones_is_the_step(name):
    build, _, _ = CASES[name]
    cell = randomize(build().double())
    x = rand(1, B, I)
    state = random_state(cell, seed=5)
    ones = torch.ones(B, cell.output_size, dtype=torch.float64)
    a = cell.step_with_dropout(cell.project_input(x), state, ones)
    b = cell.step(cell.project_input(x), state)
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
