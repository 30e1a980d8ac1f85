"""Pictures of gradient flow: gradient norm vs time step, hidden-state trajectories (PCA), Jacobian spectra.

Plain functions of arrays (no models): the numbers come from :mod:`unrolled.analysis`. matplotlib with the Agg
backend, imported when a plot is drawn; each function writes a PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["pca_project", "plot_gradient_norms", "plot_jacobian_spectra", "plot_trajectories"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_gradient_norms(curves: Mapping[str, Sequence[float]], path: str | Path, title: str = "") -> Path:
    """One line per label: ||dL/dh_t|| against the time step t (log scale), the vanishing / exploding picture.

    Args:
        curves: label -> (T,) norms (e.g. ``"step 1"``, ``"step 500"``).
        path: where to write the PNG.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in curves.items():
        v = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(v) + 1), np.maximum(v, 1e-30), label=label)
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title or "gradient norm vs time step")
    if curves:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def pca_project(states: np.ndarray, k: int = 2) -> np.ndarray:
    """Project (N, H) states onto their first ``k`` principal components (centred SVD): (N, k)."""
    x = np.asarray(states, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"pca_project: expected states of shape (N >= 2, H), got {x.shape}")
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    comps = vt[:k]  # (k, H)
    out = x @ comps.T  # (N, k)
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])))
    return out


def plot_trajectories(trajectories: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Hidden-state trajectories (S, T, H) projected on the 2 leading principal components of all states."""
    h = np.asarray(trajectories, dtype=float)
    if h.ndim != 3:
        raise ValueError(f"plot_trajectories: expected (S, T, H) trajectories, got shape {h.shape}")
    S, T, H = h.shape
    p = pca_project(h.reshape(S * T, H)).reshape(S, T, 2)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for s in range(S):
        ax.plot(p[s, :, 0], p[s, :, 1], lw=0.8)
        ax.scatter(p[s, -1, 0], p[s, -1, 1], s=10)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title or "hidden-state trajectories (PCA)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_jacobian_spectra(eigenvalues: Mapping[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Eigenvalues in the complex plane, one colour per label, with the unit circle."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), "k--", lw=0.7)
    for label, ev in eigenvalues.items():
        e = np.asarray(ev).ravel()
        ax.scatter(e.real, e.imag, s=6, label=label)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title(title or "Jacobian spectra")
    if eigenvalues:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
