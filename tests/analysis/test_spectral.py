"""Spectral radii against numpy's eigenvalues; the eigenvalue-power demonstration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.analysis import (
    eigenvalue_power,
    jacobian_spectral_radii,
    recurrent_spectral_radii,
    spectral_radius,
    step_jacobians,
)
from unrolled.cells import ElmanCell, LSTMCell


def test_radius_of_recurrent_matrix_equals_numpy():
    torch.manual_seed(0)
    cell = ElmanCell(3, 6)
    want = np.abs(np.linalg.eigvals(cell.weight_hh.detach().numpy().astype(float))).max()
    assert spectral_radius(cell.weight_hh) == pytest.approx(want, rel=1e-6)
    assert len(recurrent_spectral_radii(LSTMCell(2, 4))) == 4


def test_step_jacobian_radii_equal_numpy_on_hand_jacobians():
    torch.manual_seed(0)
    cell = ElmanCell(2, 5).double()
    x = torch.randn(4, 2, dtype=torch.float64)
    jac = step_jacobians(cell, x)
    W = cell.weight_hh.detach().numpy()
    h = np.zeros(5)
    radii = []
    for t in range(4):
        a = cell.weight_ih.detach().numpy() @ x[t].numpy() + W @ h
        a += (cell.bias_ih + cell.bias_hh).detach().numpy()
        h = np.tanh(a)
        J = np.diag(1 - h**2) @ W
        assert np.allclose(jac[t].numpy(), J)
        radii.append(np.abs(np.linalg.eigvals(J)).max())
    assert np.allclose(jacobian_spectral_radii(cell, x).numpy(), radii)


def test_eigenvalue_power_keeps_only_the_leading_eigenvector():
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    W = q @ torch.diag(torch.tensor([0.9, 0.5, -0.3, 0.1], dtype=torch.float64)) @ q.T
    out = eigenvalue_power(W, torch.ones(4, dtype=torch.float64), 60)
    assert float(out["alignment"][-1]) == pytest.approx(1.0, abs=1e-9)
    assert float(out["alignment"][0]) < 0.99
    ratio = out["norms"][-1] / out["norms"][-2]
    assert float(ratio) == pytest.approx(0.9, rel=1e-9)  # the norm decays like |lambda_1|^t
    with pytest.raises(ValueError, match="square"):
        spectral_radius(torch.zeros(2, 3))
