"""Tests for unrolled.reference.elman: finite differences, parity with torch.nn.RNN, exact values, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unrolled.reference import (
    ElmanParams,
    elman_backward,
    elman_bptt,
    elman_forward,
    elman_loss,
    numerical_gradient,
    relative_error,
)

I, H, V = 3, 4, 5
SIZES = [(2, 4, 0), (3, 5, 1)]  # (B, T, seed)


def make_problem(B, T, seed):
    rng = np.random.default_rng(seed)
    # Weights larger than the default init so that tanh is well inside its non-linear range.
    params = ElmanParams(
        U=rng.standard_normal((H, I)),
        W=0.7 * rng.standard_normal((H, H)),
        V=rng.standard_normal((V, H)),
        b=rng.standard_normal(H),
        c=rng.standard_normal(V),
    )
    xs = rng.standard_normal((B, T, I))
    h0 = 0.5 * rng.standard_normal((B, H))
    ys = rng.integers(0, V, (B, T))
    return rng, params, xs, h0, ys


def t64(array, grad=False):
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=grad)


def torch_rnn(params, rng):
    """torch.nn.RNN carrying params.U, params.W, and params.b split at random into bias_ih + bias_hh."""
    rnn = torch.nn.RNN(I, H, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
    share = rng.standard_normal(H)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(t64(params.U))
        rnn.weight_hh_l0.copy_(t64(params.W))
        rnn.bias_ih_l0.copy_(t64(params.b - share))
        rnn.bias_hh_l0.copy_(t64(share))
    return rnn


# --- finite differences ---


@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
def test_backward_matches_finite_differences(B, T, seed):
    _, params, xs, h0, ys = make_problem(B, T, seed)
    grads = elman_backward(params, elman_forward(params, xs, h0), ys)

    def loss(_):
        return elman_loss(elman_forward(params, xs, h0), ys)

    for name in ["U", "W", "V", "b", "c"]:
        numeric = numerical_gradient(loss, getattr(params, name))
        assert relative_error(getattr(grads, name), numeric) < 1e-6, name
    assert relative_error(grads.xs, numerical_gradient(loss, xs)) < 1e-6
    assert relative_error(grads.h0, numerical_gradient(loss, h0)) < 1e-6


@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
@pytest.mark.parametrize("with_extra", [False, True])
def test_bptt_matches_finite_differences(B, T, seed, with_extra):
    rng, params, xs, h0, _ = make_problem(B, T, seed)
    R = rng.standard_normal((B, T, H))
    R_T = rng.standard_normal((B, H)) if with_extra else None

    def loss(_):  # L = Σ_t h_t · R_t (+ h_T · R_T)
        h = elman_forward(params, xs, h0).h
        return float(np.sum(h * R) + (np.sum(h[:, -1] * R_T) if with_extra else 0.0))

    grads = elman_bptt(params, xs, h0, R, R_T)
    for name in ["U", "W", "b"]:
        assert relative_error(getattr(grads, name), numerical_gradient(loss, getattr(params, name))) < 1e-6
    assert relative_error(grads.xs, numerical_gradient(loss, xs)) < 1e-6
    assert relative_error(grads.h0, numerical_gradient(loss, h0)) < 1e-6


# --- parity with PyTorch autograd --------------------------------------------------------------------------


@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
def test_forward_and_backward_match_torch_rnn_with_softmax_head(B, T, seed):
    rng, params, xs, h0, ys = make_problem(B, T, seed)
    rnn = torch_rnn(params, rng)
    x, h0_t, V_t, c_t = t64(xs, True), t64(h0[None], True), t64(params.V, True), t64(params.c, True)
    out, _ = rnn(x, h0_t)
    o = out @ V_t.T + c_t
    loss = F.cross_entropy(o.reshape(-1, V), torch.from_numpy(ys).reshape(-1), reduction="sum")
    loss.backward()

    cache = elman_forward(params, xs, h0)
    grads = elman_backward(params, cache, ys)
    close = {"rtol": 0, "atol": 1e-10}
    np.testing.assert_allclose(cache.h, out.detach().numpy(), **close)
    np.testing.assert_allclose(cache.p, torch.softmax(o, -1).detach().numpy(), **close)
    assert elman_loss(cache, ys) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grads.U, rnn.weight_ih_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.W, rnn.weight_hh_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.b, rnn.bias_ih_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.b, rnn.bias_hh_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.V, V_t.grad.numpy(), **close)
    np.testing.assert_allclose(grads.c, c_t.grad.numpy(), **close)
    np.testing.assert_allclose(grads.xs, x.grad.numpy(), **close)
    np.testing.assert_allclose(grads.h0, h0_t.grad[0].numpy(), **close)


@pytest.mark.parametrize(("B", "T", "seed"), SIZES)
def test_bptt_matches_torch_rnn_with_random_upstream_gradient(B, T, seed):
    rng, params, xs, h0, _ = make_problem(B, T, seed)
    R, R_T = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    rnn = torch_rnn(params, rng)
    x, h0_t = t64(xs, True), t64(h0[None], True)
    out, h_n = rnn(x, h0_t)
    ((out * t64(R)).sum() + (h_n[0] * t64(R_T)).sum()).backward()

    grads = elman_bptt(params, xs, h0, dhs=R, dh_T_extra=R_T)
    close = {"rtol": 0, "atol": 1e-10}
    np.testing.assert_allclose(grads.U, rnn.weight_ih_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.W, rnn.weight_hh_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.b, rnn.bias_ih_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.b, rnn.bias_hh_l0.grad.numpy(), **close)
    np.testing.assert_allclose(grads.xs, x.grad.numpy(), **close)
    np.testing.assert_allclose(grads.h0, h0_t.grad[0].numpy(), **close)


# --- consistency, exact values, invariances ---


def test_bptt_with_output_layer_gradient_reproduces_backward():
    # Feeding elman_bptt the book's direct term Vᵀ ∇o_t must give exactly what elman_backward computes.
    _, params, xs, h0, ys = make_problem(3, 5, 2)
    cache = elman_forward(params, xs, h0)
    full = elman_backward(params, cache, ys)
    do = cache.p - np.eye(V)[ys]
    layer = elman_bptt(params, xs, h0, dhs=do @ params.V)
    for name in ["U", "W", "b", "xs", "h0"]:
        np.testing.assert_allclose(getattr(layer, name), getattr(full, name), rtol=0, atol=1e-12)


def test_zero_recurrence_gives_closed_form_values():
    # U = W = 0, b = 0 and h_0 = 0 make every h_t = 0, so p_t = softmax(c) at every step.
    B, T = 2, 3
    rng = np.random.default_rng(3)
    c = np.log(np.arange(1.0, V + 1))  # softmax(c) = (1, 2, 3, 4, 5) / 15
    Vmat = rng.standard_normal((V, H))
    params = ElmanParams(U=np.zeros((H, I)), W=np.zeros((H, H)), V=Vmat, b=np.zeros(H), c=c)
    xs = rng.standard_normal((B, T, I))
    ys = np.full((B, T), V - 1)  # always the last class, probability 5/15
    cache = elman_forward(params, xs)
    p = np.arange(1.0, V + 1) / 15
    np.testing.assert_allclose(cache.h, 0.0, atol=0)
    np.testing.assert_allclose(cache.p, np.broadcast_to(p, (B, T, V)), rtol=1e-14)
    assert elman_loss(cache, ys) == pytest.approx(B * T * np.log(3.0), rel=1e-14)

    grads = elman_backward(params, cache, ys)
    do = p - np.eye(V)[V - 1]  # the same ∇o_t at every step
    np.testing.assert_allclose(grads.c, B * T * do, rtol=1e-13)
    np.testing.assert_allclose(grads.V, 0.0, atol=0)  # ∇V = Σ ∇o_t h_tᵀ with h_t = 0
    np.testing.assert_allclose(grads.W, 0.0, atol=0)  # ∇W = Σ (...) h_{t-1}ᵀ with h_{t-1} = 0
    np.testing.assert_allclose(grads.b, B * T * (Vmat.T @ do), rtol=1e-13)  # W = 0: no path through time
    np.testing.assert_allclose(grads.U, np.outer(Vmat.T @ do, xs.sum(axis=(0, 1))), rtol=1e-13)


def test_one_unit_one_step_by_hand():
    # I = H = 1, V = 2, T = 1: a = b + w h0 + u x, h = tanh(a), o = c + v h.
    u, w, b, x, h0 = 0.3, -0.8, 0.1, 2.0, 0.5
    v, c = np.array([[1.5], [-0.5]]), np.array([0.2, -0.1])
    params = ElmanParams(U=[[u]], W=[[w]], V=v, b=[b], c=c)
    cache = elman_forward(params, [[[x]]], [[h0]])
    h = np.tanh(b + w * h0 + u * x)
    o = c + v[:, 0] * h
    p = np.exp(o) / np.exp(o).sum()
    assert cache.h[0, 0, 0] == pytest.approx(h, rel=1e-15)
    np.testing.assert_allclose(cache.p[0, 0], p, rtol=1e-15)
    grads = elman_backward(params, cache, [[1]])
    do = p - np.array([0.0, 1.0])
    da = (v[:, 0] @ do) * (1 - h**2)
    assert grads.U[0, 0] == pytest.approx(da * x, rel=1e-14)
    assert grads.W[0, 0] == pytest.approx(da * h0, rel=1e-14)
    assert grads.h0[0, 0] == pytest.approx(da * w, rel=1e-14)


def test_batch_rows_are_independent_and_gradients_add():
    _, params, xs, h0, ys = make_problem(3, 4, 4)
    cache = elman_forward(params, xs, h0)
    grads = elman_backward(params, cache, ys)
    singles = [
        elman_backward(params, elman_forward(params, xs[k : k + 1], h0[k : k + 1]), ys[k : k + 1]) for k in range(3)
    ]
    for k in range(3):
        np.testing.assert_allclose(cache.h[k], elman_forward(params, xs[k : k + 1], h0[k : k + 1]).h[0], atol=1e-15)
        np.testing.assert_allclose(grads.xs[k], singles[k].xs[0], atol=1e-15)
    for name in ["U", "W", "V", "b", "c"]:
        np.testing.assert_allclose(getattr(grads, name), sum(getattr(s, name) for s in singles), atol=1e-13)


def test_h0_defaults_to_zeros_and_float64_params_are_not_copied():
    _, params, xs, _, _ = make_problem(2, 4, 5)
    np.testing.assert_array_equal(elman_forward(params, xs).h, elman_forward(params, xs, np.zeros((2, H))).h)
    U = np.ones((H, I))
    assert ElmanParams(U=U, W=np.eye(H), V=np.ones((V, H)), b=np.zeros(H), c=np.zeros(V)).U is U


# --- error paths ---


def good_params(**overrides):
    fields = {
        "U": np.ones((H, I)),
        "W": np.ones((H, H)),
        "V": np.ones((V, H)),
        "b": np.ones(H),
        "c": np.ones(V),
    }
    fields.update(overrides)
    return ElmanParams(**fields)


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"U": np.ones(H)}, ValueError, r"^U: expected shape \(H, I\), got \(4,\)$"),
        ({"W": np.ones((H, 3))}, ValueError, r"^W: expected shape \(H=4, H=4\), got \(4, 3\)$"),
        ({"V": np.ones((V, 3))}, ValueError, r"^V: expected shape \(V, H=4\), got \(5, 3\)$"),
        ({"b": np.ones(5)}, ValueError, r"^b: expected shape \(H=4\), got \(5,\)$"),
        ({"c": np.ones(4)}, ValueError, r"^c: expected shape \(V=5\), got \(4,\)$"),
        ({"U": np.ones((0, I))}, ValueError, r"^U: expected shape \(H, I\), got \(0, 3\)$"),
        ({"U": [["a", "b", "c"]] * H}, TypeError, r"^U: expected a real-valued array, got list$"),
        ({"W": np.ones((H, H)) * 1j}, TypeError, r"^W: expected a real-valued array, got complex values$"),
    ],
)
def test_params_reject_bad_shapes_and_types(overrides, error, match):
    with pytest.raises(error, match=match):
        good_params(**overrides)


@pytest.mark.parametrize(
    ("xs", "h0", "match"),
    [
        (np.ones((2, 4, 5)), None, r"^xs: expected shape \(B, T, I=3\), got \(2, 4, 5\)$"),
        (np.ones((4, 3)), None, r"^xs: expected shape \(B, T, I=3\), got \(4, 3\)$"),
        (np.ones((2, 0, 3)), None, r"^xs: expected shape \(B, T, I=3\), got \(2, 0, 3\)$"),
        (np.ones((2, 4, 3)), np.ones((3, H)), r"^h0: expected shape \(B=2, H=4\), got \(3, 4\)$"),
        (np.ones((2, 4, 3)), np.ones(H), r"^h0: expected shape \(B=2, H=4\), got \(4,\)$"),
    ],
)
def test_forward_and_bptt_reject_bad_inputs(xs, h0, match):
    with pytest.raises(ValueError, match=match):
        elman_forward(good_params(), xs, h0)
    with pytest.raises(ValueError, match=match):
        elman_bptt(good_params(), xs, h0, np.ones((2, 4, H)))


@pytest.mark.parametrize(
    ("ys", "error", "match"),
    [
        (np.zeros((2, 3), dtype=int), ValueError, r"^ys: expected shape \(B=2, T=4\), got \(2, 3\)$"),
        (np.zeros((2, 4)), TypeError, r"^ys: expected integer class indices, got dtype float64$"),
        (np.full((2, 4), 5), ValueError, r"^ys: expected class indices in \[0, 5\), got values in \[5, 5\]$"),
        (
            np.full((2, 4), -1),
            ValueError,
            r"^ys: expected class indices in \[0, 5\), got values in \[-1, -1\]$",
        ),
    ],
)
def test_loss_and_backward_reject_bad_targets(ys, error, match):
    params = good_params()
    cache = elman_forward(params, np.ones((2, 4, I)))
    with pytest.raises(error, match=match):
        elman_loss(cache, ys)
    with pytest.raises(error, match=match):
        elman_backward(params, cache, ys)


def test_bptt_rejects_bad_upstream_gradients():
    params, xs = good_params(), np.ones((2, 4, I))
    with pytest.raises(ValueError, match=r"^dhs: expected shape \(B=2, T=4, H=4\), got \(2, 4, 5\)$"):
        elman_bptt(params, xs, None, np.ones((2, 4, 5)))
    with pytest.raises(ValueError, match=r"^dh_T_extra: expected shape \(B=2, H=4\), got \(2, 4, 4\)$"):
        elman_bptt(params, xs, None, np.ones((2, 4, H)), np.ones((2, 4, H)))


def test_backward_rejects_cache_from_other_sizes():
    cache = elman_forward(good_params(), np.ones((2, 4, I)))
    other = good_params(V=np.ones((6, H)), c=np.ones(6))
    with pytest.raises(ValueError, match=r"^cache: expected sizes \(I=3, H=4, V=6\) from params, got \(3, 4, 5\)$"):
        elman_backward(other, cache, np.zeros((2, 4), dtype=int))
