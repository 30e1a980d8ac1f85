"""Readouts: ridge equals numpy's lstsq on the augmented system (batched too); RLS converges to the ridge solution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.reservoir.readout import RidgeReadout, RLSReadout, ridge_solve


def _augmented_lstsq(X, Y, lam, bias):
    Xb = np.hstack([X, np.ones((len(X), 1))]) if bias else X
    D = np.eye(Xb.shape[1]) * np.sqrt(lam)
    if bias:
        D[-1, -1] = 0.0
    sol = np.linalg.lstsq(np.vstack([Xb, D]), np.vstack([Y, np.zeros((Xb.shape[1], Y.shape[1]))]), rcond=None)[0]
    return sol.T  # (O, F[+1])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lam", [0.0, 1e-3, 10.0])
def test_ridge_equals_numpy_lstsq(bias, lam):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((60, 7)), rng.standard_normal((60, 3))
    W, c = ridge_solve(torch.tensor(X), torch.tensor(Y), lam, bias=bias)
    ref = _augmented_lstsq(X, Y, lam, bias)
    np.testing.assert_allclose(W.numpy(), ref[:, :7], atol=1e-9)
    if bias:
        np.testing.assert_allclose(c.numpy(), ref[:, 7], atol=1e-9)
    else:
        assert c is None


def test_ridge_batched_and_rank_deficient():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((4, 30, 5)), rng.standard_normal((4, 30, 2))
    W, c = ridge_solve(torch.tensor(X), torch.tensor(Y), 0.1)
    for b in range(4):
        ref = _augmented_lstsq(X[b], Y[b], 0.1, True)
        np.testing.assert_allclose(W[b].numpy(), ref[:, :5], atol=1e-9)
        np.testing.assert_allclose(c[b].numpy(), ref[:, 5], atol=1e-9)
    # duplicated column and no penalty: singular normal equations, solved by least squares (minimum norm)
    Xs = np.hstack([X[0], X[0][:, :1]])
    W, c = ridge_solve(torch.tensor(Xs), torch.tensor(Y[0]), 0.0)
    pred = Xs @ W.numpy().T + c.numpy()
    ref = _augmented_lstsq(Xs, Y[0], 0.0, True)
    np.testing.assert_allclose(pred, np.hstack([Xs, np.ones((30, 1))]) @ ref.T, atol=1e-8)


def test_ridge_readout_module_and_errors():
    X = torch.randn(2, 50, 4, dtype=torch.float64)
    Y = X @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]], dtype=torch.float64) + 0.7
    r = RidgeReadout(4, 1, ridge=0.0).double().fit(X, Y)
    torch.testing.assert_close(r.weight, torch.tensor([[1.0, -2.0, 0.5, 3.0]], dtype=torch.float64))
    torch.testing.assert_close(r.bias, torch.tensor([0.7], dtype=torch.float64))
    torch.testing.assert_close(r(X), Y)
    with pytest.raises(ValueError, match="NaN"):
        ridge_solve(torch.tensor([[float("nan")]]), torch.tensor([[1.0]]), 1.0)
    with pytest.raises(ValueError, match="same leading shape"):
        ridge_solve(torch.randn(5, 2), torch.randn(4, 1), 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        ridge_solve(torch.randn(5, 2), torch.randn(5, 1), -1.0)


def test_rls_converges_to_ridge_solution():
    rng = np.random.default_rng(2)
    X = torch.tensor(rng.standard_normal((400, 6)))
    Y = X @ torch.tensor(rng.standard_normal((6, 2))) + 0.1 * torch.tensor(rng.standard_normal((400, 2)))
    alpha = 0.5
    rls = RLSReadout(6, 2, alpha=alpha).fit(X, Y)
    # RLS with P0 = I / alpha minimises ||X_bar W^T - Y||^2 + alpha ||W_bar||^2 (the bias shrunk too)
    Xb = np.hstack([X.numpy(), np.ones((400, 1))])
    ref = np.linalg.solve(Xb.T @ Xb + alpha * np.eye(7), Xb.T @ Y.numpy()).T
    np.testing.assert_allclose(rls.W.numpy(), ref, atol=1e-8)
    torch.testing.assert_close(rls(X[:3]), torch.tensor(Xb[:3] @ ref.T))
    with pytest.raises(ValueError, match="alpha > 0"):
        RLSReadout(2, 1, alpha=0.0)


def test_ridge_finds_nan_or_inf_anywhere_in_the_states_and_overflow():
    for bad in (float("nan"), float("inf"), -float("inf")):
        X = torch.randn(30, 4, dtype=torch.float64)
        X[17, 2] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            ridge_solve(X, torch.randn(30, 1, dtype=torch.float64), 1e-3)
        with pytest.raises(ValueError, match="NaN or infinite"):
            ridge_solve(X.reshape(3, 10, 4), torch.randn(3, 10, 1, dtype=torch.float64), 1e-3)  # batched
    X = torch.randn(30, 4, dtype=torch.float64)
    X[3, 1] = 1e200
    with pytest.raises(ValueError, match="overflow float64"):
        ridge_solve(X, torch.randn(30, 1, dtype=torch.float64), 1e-3)
