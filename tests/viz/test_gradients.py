"""Gradient-flow pictures: the PCA projection against scikit-learn, and each plot writes its PNG."""

from __future__ import annotations

import numpy as np
import pytest

from unrolled.viz.gradients import pca_project, plot_gradient_norms, plot_jacobian_spectra, plot_trajectories


def test_pca_projection_equals_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(0).normal(size=(40, 5)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.1])
    ours = pca_project(x, 2)
    theirs = PCA(n_components=2).fit_transform(x)
    assert np.allclose(np.abs(ours), np.abs(theirs), atol=1e-8)
    with pytest.raises(ValueError, match="expected states"):
        pca_project(np.zeros(3))


def test_plots_write_pngs(tmp_path):
    norms = {"step 1": [1e-8, 1e-4, 1.0], "step 50": [1e-3, 1e-2, 0.5]}
    traj = np.random.default_rng(0).normal(size=(3, 10, 4))
    eig = {"t=1": np.array([0.5 + 0.1j, 0.2])}
    for path in (
        plot_gradient_norms(norms, tmp_path / "g.png"),
        plot_trajectories(traj, tmp_path / "t.png"),
        plot_jacobian_spectra(eig, tmp_path / "j.png"),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="S, T, H"):
        plot_trajectories(np.zeros((3, 4)), tmp_path / "x.png")
