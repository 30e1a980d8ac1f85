"""Tests for unrolled.reference.gru: both reset variants against finite differences and PyTorch autograd."""

import numpy as np
import pytest
import torch

from unrolled.reference import GRUParams, gru_backward, gru_forward, numerical_gradient, relative_error

I, H = 3, 4
SIZES = [(2, 4, 0), (3, 5, 1)]  # (B, T, seed)
WEIGHTS = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
RESETS = ["after", "before"]


def make_problem(B, T, seed):
    rng = np.random.default_rng(seed)
    params = GRUParams(
        weight_ih=rng.standard_normal((3 * H, I)),
        weight_hh=0.7 * rng.standard_normal((3 * H, H)),
        bias_ih=rng.standard_normal(3 * H),
        bias_hh=rng.standard_normal(3 * H),
    )
    xs = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((B, H))
    return params, xs, h0, rng.standard_normal((B, T, H)), rng.standard_normal((B, H))


def t64(array, grad=False):
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=grad)


def torch_gru(weight_ih, weight_hh, bias_ih, bias_hh, x, h0, reset):
    """A GRU written with torch operations, differentiated by autograd; x is (B, T, I), returns (B, T, H)."""
    W_ir, W_iz, W_in = weight_ih.chunk(3)
    W_hr, W_hz, W_hn = weight_hh.chunk(3)
    b_ir, b_iz, b_in = bias_ih.chunk(3)
    b_hr, b_hz, b_hn = bias_hh.chunk(3)
    h, outputs = h0, []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        r = torch.sigmoid(x_t @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = torch.sigmoid(x_t @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        if reset == "after":
            n = torch.tanh(x_t @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        else:
            n = torch.tanh(x_t @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
        h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs, dim=1)


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
def test_backward_matches_finite_differences(B, T, seed, reset):
    params, xs, h0, R, R_T = make_problem(B, T, seed)

    def loss(_):  # L = Σ_t h_t · R_t + h_T · R_T
        h = gru_forward(params, xs, h0, reset=reset).h
        return float(np.sum(h * R) + np.sum(h[:, -1] * R_T))

    grads = gru_backward(params, gru_forward(params, xs, h0, reset=reset), R, dh_T=R_T)
    for name in WEIGHTS:
        assert relative_error(getattr(grads, name), numerical_gradient(loss, getattr(params, name))) < 1e-6, name
    assert relative_error(grads.xs, numerical_gradient(loss, xs)) < 1e-6
    assert relative_error(grads.h0, numerical_gradient(loss, h0)) < 1e-6


@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
def test_reset_after_matches_torch_gru(B, T, seed):
    params, xs, h0, R, R_T = make_problem(B, T, seed)
    gru = torch.nn.GRU(I, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name in WEIGHTS:
            getattr(gru, f"{name}_l0").copy_(t64(getattr(params, name)))
    x, h0_t = t64(xs, True), t64(h0[None], True)
    out, h_n = gru(x, h0_t)
    ((out * t64(R)).sum() + (h_n[0] * t64(R_T)).sum()).backward()

    cache = gru_forward(params, xs, h0, reset="after")
    grads = gru_backward(params, cache, R, dh_T=R_T)
    close = {"rtol": 0, "atol": 1e-10}
    np.testing.assert_allclose(cache.h, out.detach().numpy(), **close)
    for name in WEIGHTS:
        np.testing.assert_allclose(getattr(grads, name), getattr(gru, f"{name}_l0").grad.numpy(), **close)
    np.testing.assert_allclose(grads.xs, x.grad.numpy(), **close)
    np.testing.assert_allclose(grads.h0, h0_t.grad[0].numpy(), **close)


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
def test_matches_hand_written_torch_autograd(B, T, seed, reset):
    params, xs, h0, R, R_T = make_problem(B, T, seed)
    weights = {name: t64(getattr(params, name), True) for name in WEIGHTS}
    x, h0_t = t64(xs, True), t64(h0, True)
    out = torch_gru(**weights, x=x, h0=h0_t, reset=reset)
    ((out * t64(R)).sum() + (out[:, -1] * t64(R_T)).sum()).backward()

    cache = gru_forward(params, xs, h0, reset=reset)
    grads = gru_backward(params, cache, R, dh_T=R_T)
    close = {"rtol": 0, "atol": 1e-10}
    np.testing.assert_allclose(cache.h, out.detach().numpy(), **close)
    for name in WEIGHTS:
        np.testing.assert_allclose(getattr(grads, name), weights[name].grad.numpy(), **close)
    np.testing.assert_allclose(grads.xs, x.grad.numpy(), **close)
    np.testing.assert_allclose(grads.h0, h0_t.grad.numpy(), **close)


def test_hand_written_torch_reset_after_is_torch_gru():
    # Guards the hand-written reference of the "before" test: its "after" branch must be torch.nn.GRU.
    params, xs, h0, _, _ = make_problem(2, 4, 2)
    gru = torch.nn.GRU(I, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name in WEIGHTS:
            getattr(gru, f"{name}_l0").copy_(t64(getattr(params, name)))
        expected, _ = gru(t64(xs), t64(h0[None]))
        got = torch_gru(**{name: t64(getattr(params, name)) for name in WEIGHTS}, x=t64(xs), h0=t64(h0), reset="after")
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0, atol=1e-14)


def test_variants_differ_in_general_but_agree_when_the_reset_cannot_matter():
    params, xs, h0, R, _ = make_problem(2, 4, 3)
    after, before = gru_forward(params, xs, h0, reset="after"), gru_forward(params, xs, h0, reset="before")
    assert np.abs(after.h - before.h).max() > 1e-2
    assert np.abs(gru_backward(params, after, R).weight_hh - gru_backward(params, before, R).weight_hh).max() > 1e-2

    # With h_0 = 0 and b_hn = 0 the hidden term of n_1 is 0 either way: r ⊙ (W_hn 0 + 0) = W_hn (r ⊙ 0) + 0.
    # The states agree; so do the weight gradients, except for b_hn, which "after" sees through r: ∇b_hn = δa_n ⊙ r.
    # (∂L/∂h_0 differs: (W_hnᵀ (δa_n ⊙ r)) against (W_hnᵀ δa_n) ⊙ r, the very order the variants swap.)
    params.bias_hh[2 * H :] = 0.0
    x1, zero, R1 = xs[:1, :1], np.zeros((1, H)), R[:1, :1]  # one sequence, one step
    after, before = (gru_forward(params, x1, zero, reset=reset) for reset in RESETS)
    np.testing.assert_allclose(after.h, before.h, rtol=0, atol=1e-15)
    g_after, g_before = gru_backward(params, after, R1), gru_backward(params, before, R1)
    for name in ["weight_ih", "weight_hh", "bias_ih", "xs"]:
        np.testing.assert_allclose(getattr(g_after, name), getattr(g_before, name), rtol=0, atol=1e-14)
    np.testing.assert_allclose(g_after.bias_hh[: 2 * H], g_before.bias_hh[: 2 * H], rtol=0, atol=1e-14)
    np.testing.assert_allclose(g_after.bias_hh[2 * H :], g_before.bias_hh[2 * H :] * after.r[0, 0], rtol=1e-13)
    assert np.abs(g_after.bias_hh[2 * H :] - g_before.bias_hh[2 * H :]).max() > 1e-3


@pytest.mark.parametrize("reset", RESETS)
def test_zero_weights_halve_the_state_each_step(reset):
    # Every pre-activation is 0: r = z = 1/2 and n = tanh(0) = 0, so h_t = h_{t-1} / 2 = h_0 / 2^t.
    B, T = 2, 5
    rng = np.random.default_rng(4)
    params = GRUParams(np.zeros((3 * H, I)), np.zeros((3 * H, H)), np.zeros(3 * H), np.zeros(3 * H))
    h0 = rng.standard_normal((B, H))
    cache = gru_forward(params, rng.standard_normal((B, T, I)), h0, reset=reset)
    np.testing.assert_allclose(cache.h, h0[:, None, :] * 0.5 ** np.arange(1, T + 1)[None, :, None], rtol=1e-15)
    grads = gru_backward(params, cache, np.zeros((B, T, H)), dh_T=np.ones((B, H)))  # L = Σ h_T
    np.testing.assert_allclose(grads.h0, 0.5**T, rtol=1e-15)


def test_batch_rows_are_independent_and_gradients_add():
    params, xs, h0, R, _ = make_problem(3, 4, 5)
    grads = gru_backward(params, gru_forward(params, xs, h0, reset="before"), R)
    singles = [
        gru_backward(params, gru_forward(params, xs[k : k + 1], h0[k : k + 1], reset="before"), R[k : k + 1])
        for k in range(3)
    ]
    for name in WEIGHTS:
        np.testing.assert_allclose(getattr(grads, name), sum(getattr(s, name) for s in singles), atol=1e-13)
    np.testing.assert_allclose(grads.xs, np.concatenate([s.xs for s in singles]), atol=1e-15)


def test_default_reset_is_torch_layout_and_h0_defaults_to_zeros():
    params, xs, *_ = make_problem(2, 4, 6)
    default = gru_forward(params, xs)
    assert default.reset == "after"
    np.testing.assert_array_equal(default.h, gru_forward(params, xs, np.zeros((2, H)), reset="after").h)


# --- error paths ---


def good_params(**overrides):
    fields = {
        "weight_ih": np.ones((3 * H, I)),
        "weight_hh": np.ones((3 * H, H)),
        "bias_ih": np.ones(3 * H),
        "bias_hh": np.ones(3 * H),
    }
    fields.update(overrides)
    return GRUParams(**fields)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"weight_hh": np.ones((16, H))}, r"^weight_hh: expected shape \(3H=12, H=4\), got \(16, 4\)$"),
        ({"weight_ih": np.ones((16, I))}, r"^weight_ih: expected shape \(3H=12, I\), got \(16, 3\)$"),
        ({"bias_ih": np.ones(16)}, r"^bias_ih: expected shape \(3H=12\), got \(16,\)$"),
        ({"bias_hh": np.ones(4)}, r"^bias_hh: expected shape \(3H=12\), got \(4,\)$"),
    ],
)
def test_params_reject_bad_shapes(overrides, match):
    with pytest.raises(ValueError, match=match):
        good_params(**overrides)


def test_unknown_reset_variant_is_rejected_by_forward_and_backward():
    params = good_params()
    with pytest.raises(ValueError, match=r"^reset: expected one of \['after', 'before'\], got 'middle'$"):
        gru_forward(params, np.ones((2, 4, I)), reset="middle")
    cache = gru_forward(params, np.ones((2, 4, I)))
    cache.reset = "Before"
    with pytest.raises(ValueError, match=r"^reset: expected one of \['after', 'before'\], got 'Before'$"):
        gru_backward(params, cache, np.ones((2, 4, H)))


@pytest.mark.parametrize(
    ("xs", "h0", "match"),
    [
        (np.ones((2, 4, 2)), None, r"^xs: expected shape \(B, T, I=3\), got \(2, 4, 2\)$"),
        (np.ones((2, 4, 3)), np.ones((1, H)), r"^h0: expected shape \(B=2, H=4\), got \(1, 4\)$"),
    ],
)
def test_forward_rejects_bad_inputs(xs, h0, match):
    with pytest.raises(ValueError, match=match):
        gru_forward(good_params(), xs, h0)


def test_backward_rejects_bad_upstream_gradients_and_foreign_cache():
    params = good_params()
    cache = gru_forward(params, np.ones((2, 4, I)))
    with pytest.raises(ValueError, match=r"^dhs: expected shape \(B=2, T=4, H=4\), got \(4, 2, 4\)$"):
        gru_backward(params, cache, np.ones((4, 2, H)))
    with pytest.raises(ValueError, match=r"^dh_T: expected shape \(B=2, H=4\), got \(2, 3\)$"):
        gru_backward(params, cache, np.ones((2, 4, H)), dh_T=np.ones((2, 3)))
    other = good_params(weight_ih=np.ones((3 * H, 5)))
    with pytest.raises(ValueError, match=r"^cache: expected sizes \(I=5, H=4\) from params, got \(3, 4\)$"):
        gru_backward(other, cache, np.ones((2, 4, H)))
