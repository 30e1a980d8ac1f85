"""The NumPy reference BPTT against unrolled's own layers (every backend) on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled import Recurrent
from unrolled.reference import GRUParams, LSTMParams, gru_backward, gru_forward, lstm_backward, lstm_forward

B, T, I, H = 2, 5, 3, 4
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _layer(cell, params, backend, **kw):
    rnn = Recurrent(cell, I, H, backend=backend, **kw).double()
    with torch.no_grad():
        for name in NAMES:
            getattr(rnn.cells[0], name).copy_(torch.from_numpy(getattr(params, name)))
    return rnn


def _run(rnn, xs, dhs, h0, c0=None):
    x = torch.from_numpy(xs).requires_grad_(True)
    h = torch.from_numpy(h0).requires_grad_(True)
    state = ((h, torch.from_numpy(c0).requires_grad_(True)),) if c0 is not None else (h,)
    y, _ = rnn(x, state)
    (y * torch.from_numpy(dhs)).sum().backward()
    return y, x, state


@pytest.mark.parametrize("backend", ["auto", "loop"])
def test_lstm_reference_gradients_equal_unrolled(backend):
    rng = np.random.default_rng(0)
    params = LSTMParams.random(I, H, rng=rng)
    xs, h0, c0 = rng.standard_normal((B, T, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    dhs = rng.standard_normal((B, T, H))
    cache = lstm_forward(params, xs, h0, c0)
    grads = lstm_backward(params, cache, dhs)
    rnn = _layer("lstm", params, backend)
    y, x, state = _run(rnn, xs, dhs, h0, c0)
    np.testing.assert_allclose(y.detach().numpy(), cache.h, atol=1e-12)
    for name in NAMES:
        np.testing.assert_allclose(getattr(rnn.cells[0], name).grad.numpy(), getattr(grads, name), atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), grads.xs, atol=1e-10)
    np.testing.assert_allclose(state[0][0].grad.numpy(), grads.h0, atol=1e-10)
    np.testing.assert_allclose(state[0][1].grad.numpy(), grads.c0, atol=1e-10)


@pytest.mark.parametrize("reset", ["after", "before"])
@pytest.mark.parametrize("backend", ["auto", "loop"])
def test_gru_reference_gradients_equal_unrolled(reset, backend):
    rng = np.random.default_rng(1)
    params = GRUParams.random(I, H, rng=rng)
    xs, h0 = rng.standard_normal((B, T, I)), rng.standard_normal((B, H))
    dhs = rng.standard_normal((B, T, H))
    cache = gru_forward(params, xs, h0, reset=reset)
    grads = gru_backward(params, cache, dhs)
    rnn = _layer("gru", params, backend, reset=reset)
    y, x, state = _run(rnn, xs, dhs, h0)
    np.testing.assert_allclose(y.detach().numpy(), cache.h, atol=1e-12)
    for name in NAMES:
        np.testing.assert_allclose(getattr(rnn.cells[0], name).grad.numpy(), getattr(grads, name), atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), grads.xs, atol=1e-10)
    np.testing.assert_allclose(state[0].grad.numpy(), grads.h0, atol=1e-10)
