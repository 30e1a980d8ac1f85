"""Attention heatmaps: where each target token looked in the source, as a PNG (matplotlib, Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

__all__ = ["plot_attention"]


def plot_attention(
    weights: object,
    source: Sequence[str],
    target: Sequence[str],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> None:
    """Save a heatmap of attention ``weights`` (T target rows, S source columns) to ``path``.

    Source tokens label the x axis (top), target tokens the y axis; a darker cell is a larger weight.

    Args:
        weights: (T, S) array-like (a tensor, numpy array or nested list) of weights in [0, 1].
        source: the S source tokens. target: the T target tokens.
        path: the PNG to write. title: optional title.

    Example::

        >>> plot_attention([[0.9, 0.1], [0.2, 0.8]], ["a", "b"], ["x", "y"], "attn.png")  # doctest: +SKIP
    """
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()  # type: ignore[union-attr]
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape != (len(target), len(source)):
        raise ValueError(
            f"attention weights must be (T={len(target)} target tokens, S={len(source)} source tokens), got {w.shape}"
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(3.0, 0.4 * len(source) + 1.5), max(2.5, 0.4 * len(target) + 1.2)))
    im = ax.imshow(w, cmap="Greys", vmin=0.0, vmax=max(1e-9, float(w.max())), aspect="auto")
    ax.set_xticks(range(len(source)), list(source), rotation=90)
    ax.set_yticks(range(len(target)), list(target))
    ax.xaxis.tick_top()
    ax.set_xlabel("source")
    ax.set_ylabel("target")
    if title:
        ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
