"""Tests for unrolled.reference.lstm: finite differences, parity with torch.nn.LSTM, exact values, errors."""

import numpy as np
import pytest
import torch

from unrolled.reference import LSTMParams, lstm_backward, lstm_forward, numerical_gradient, relative_error

I, H = 3, 4
SIZES = [(2, 4, 0), (3, 5, 1)]  # (B, T, seed)
WEIGHTS = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def make_problem(B, T, seed):
    rng = np.random.default_rng(seed)
    params = LSTMParams(
        weight_ih=rng.standard_normal((4 * H, I)),
        weight_hh=0.7 * rng.standard_normal((4 * H, H)),
        bias_ih=rng.standard_normal(4 * H),
        bias_hh=rng.standard_normal(4 * H),
    )
    xs = rng.standard_normal((B, T, I))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    upstream = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    return params, xs, h0, c0, upstream


def t64(array, grad=False):
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
@pytest.mark.parametrize("final_state", [False, True])
def test_backward_matches_finite_differences(B, T, seed, final_state):
    params, xs, h0, c0, (R, R_h, R_c) = make_problem(B, T, seed)
    if not final_state:
        R_h = R_c = None

    def loss(_):  # L = Σ_t h_t · R_t (+ h_T · R_h + c_T · R_c)
        cache = lstm_forward(params, xs, h0, c0)
        extra = np.sum(cache.h[:, -1] * R_h) + np.sum(cache.c[:, -1] * R_c) if final_state else 0.0
        return float(np.sum(cache.h * R) + extra)

    grads = lstm_backward(params, lstm_forward(params, xs, h0, c0), R, dh_T=R_h, dc_T=R_c)
    for name in WEIGHTS:
        assert relative_error(getattr(grads, name), numerical_gradient(loss, getattr(params, name))) < 1e-6, name
    for name, array in [("xs", xs), ("h0", h0), ("c0", c0)]:
        assert relative_error(getattr(grads, name), numerical_gradient(loss, array)) < 1e-6, name


@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
def test_forward_and_backward_match_torch_lstm(B, T, seed):
    params, xs, h0, c0, (R, R_h, R_c) = make_problem(B, T, seed)
    lstm = torch.nn.LSTM(I, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name in WEIGHTS:
            getattr(lstm, f"{name}_l0").copy_(t64(getattr(params, name)))
    x, h0_t, c0_t = t64(xs, True), t64(h0[None], True), t64(c0[None], True)
    out, (h_n, c_n) = lstm(x, (h0_t, c0_t))
    ((out * t64(R)).sum() + (h_n[0] * t64(R_h)).sum() + (c_n[0] * t64(R_c)).sum()).backward()

    cache = lstm_forward(params, xs, h0, c0)
    grads = lstm_backward(params, cache, R, dh_T=R_h, dc_T=R_c)
    close = {"rtol": 0, "atol": 1e-10}
    np.testing.assert_allclose(cache.h, out.detach().numpy(), **close)
    np.testing.assert_allclose(cache.c[:, -1], c_n[0].detach().numpy(), **close)
    for name in WEIGHTS:
        np.testing.assert_allclose(getattr(grads, name), getattr(lstm, f"{name}_l0").grad.numpy(), **close)
    np.testing.assert_allclose(grads.xs, x.grad.numpy(), **close)
    np.testing.assert_allclose(grads.h0, h0_t.grad[0].numpy(), **close)
    np.testing.assert_allclose(grads.c0, c0_t.grad[0].numpy(), **close)


def test_zero_weights_give_closed_form_states_and_gradients():
    # Every pre-activation is 0: i = f = o = 1/2 and g = 0, so c_t = c_0 / 2^t and h_t = tanh(c_t) / 2.
    B, T = 2, 5
    rng = np.random.default_rng(2)
    params = LSTMParams(np.zeros((4 * H, I)), np.zeros((4 * H, H)), np.zeros(4 * H), np.zeros(4 * H))
    c0 = rng.standard_normal((B, H))
    cache = lstm_forward(params, rng.standard_normal((B, T, I)), rng.standard_normal((B, H)), c0)
    scale = 0.5 ** np.arange(1, T + 1)[None, :, None]
    np.testing.assert_allclose(cache.c, c0[:, None, :] * scale, rtol=1e-15)
    np.testing.assert_allclose(cache.h, 0.5 * np.tanh(c0[:, None, :] * scale), rtol=1e-15)
    np.testing.assert_allclose(cache.i, 0.5, rtol=0)
    np.testing.assert_allclose(cache.g, 0.0, atol=0)

    # L = Σ c_T: only the path c_T -> c_{T-1} -> ... -> c_0 through the forget gates, ∂L/∂c_0 = 2^-T.
    grads = lstm_backward(params, cache, np.zeros((B, T, H)), dc_T=np.ones((B, H)))
    np.testing.assert_allclose(grads.c0, 0.5**T, rtol=1e-15)
    np.testing.assert_allclose(grads.xs, 0.0, atol=0)  # W_ih = 0
    np.testing.assert_allclose(grads.h0, 0.0, atol=0)  # W_hh = 0


def test_batch_rows_are_independent_and_gradients_add():
    params, xs, h0, c0, (R, _, _) = make_problem(3, 4, 3)
    grads = lstm_backward(params, lstm_forward(params, xs, h0, c0), R)
    singles = []
    for k in range(3):
        rows = slice(k, k + 1)
        cache = lstm_forward(params, xs[rows], h0[rows], c0[rows])
        np.testing.assert_allclose(cache.h[0], lstm_forward(params, xs, h0, c0).h[k], atol=1e-15)
        singles.append(lstm_backward(params, cache, R[rows]))
    for name in WEIGHTS:
        np.testing.assert_allclose(getattr(grads, name), sum(getattr(s, name) for s in singles), atol=1e-13)


def test_states_default_to_zeros():
    params, xs, *_ = make_problem(2, 4, 4)
    zeros = np.zeros((2, H))
    np.testing.assert_array_equal(lstm_forward(params, xs).h, lstm_forward(params, xs, zeros, zeros).h)


# --- error paths ---


def good_params(**overrides):
    fields = {
        "weight_ih": np.ones((4 * H, I)),
        "weight_hh": np.ones((4 * H, H)),
        "bias_ih": np.ones(4 * H),
        "bias_hh": np.ones(4 * H),
    }
    fields.update(overrides)
    return LSTMParams(**fields)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"weight_hh": np.ones((15, H))}, r"^weight_hh: expected shape \(4H=16, H=4\), got \(15, 4\)$"),
        ({"weight_hh": np.ones(16)}, r"^weight_hh: expected shape \(4H, H\), got \(16,\)$"),
        ({"weight_ih": np.ones((12, I))}, r"^weight_ih: expected shape \(4H=16, I\), got \(12, 3\)$"),
        ({"bias_ih": np.ones(12)}, r"^bias_ih: expected shape \(4H=16\), got \(12,\)$"),
        ({"bias_hh": np.ones((4 * H, 1))}, r"^bias_hh: expected shape \(4H=16\), got \(16, 1\)$"),
    ],
)
def test_params_reject_bad_shapes(overrides, match):
    with pytest.raises(ValueError, match=match):
        good_params(**overrides)


def test_params_reject_non_numeric():
    with pytest.raises(TypeError, match=r"^bias_ih: expected a real-valued array, got str$"):
        good_params(bias_ih="zeros")


@pytest.mark.parametrize(
    ("xs", "h0", "c0", "match"),
    [
        (np.ones((2, 4, 5)), None, None, r"^xs: expected shape \(B, T, I=3\), got \(2, 4, 5\)$"),
        (np.ones((2, 4, 3)), np.ones((2, 5)), None, r"^h0: expected shape \(B=2, H=4\), got \(2, 5\)$"),
        (np.ones((2, 4, 3)), None, np.ones((1, 2, H)), r"^c0: expected shape \(B=2, H=4\), got \(1, 2, 4\)$"),
    ],
)
def test_forward_rejects_bad_inputs(xs, h0, c0, match):
    with pytest.raises(ValueError, match=match):
        lstm_forward(good_params(), xs, h0, c0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dhs": np.ones((2, 5, H))}, r"^dhs: expected shape \(B=2, T=4, H=4\), got \(2, 5, 4\)$"),
        ({"dhs": np.ones((2, 4, H)), "dh_T": np.ones(H)}, r"^dh_T: expected shape \(B=2, H=4\), got \(4,\)$"),
        (
            {"dhs": np.ones((2, 4, H)), "dc_T": np.ones((3, H))},
            r"^dc_T: expected shape \(B=2, H=4\), got \(3, 4\)$",
        ),
    ],
)
def test_backward_rejects_bad_upstream_gradients(kwargs, match):
    params = good_params()
    cache = lstm_forward(params, np.ones((2, 4, I)))
    with pytest.raises(ValueError, match=match):
        lstm_backward(params, cache, **kwargs)


def test_backward_rejects_cache_from_other_sizes():
    cache = lstm_forward(good_params(), np.ones((2, 4, I)))
    other = good_params(weight_ih=np.ones((4 * H, 2)))
    with pytest.raises(ValueError, match=r"^cache: expected sizes \(I=2, H=4\) from params, got \(3, 4\)$"):
        lstm_backward(other, cache, np.ones((2, 4, H)))
