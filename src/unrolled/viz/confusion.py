r"""A confusion matrix as a PNG: rows the true class, columns the predicted one, each row normalised to sum to 1
(the recall of each class on the diagonal), the counts written in the cells when the matrix is small.

matplotlib with the Agg backend (no display needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_confusion", "row_normalised"]


def row_normalised(counts: np.ndarray) -> np.ndarray:
    r"""Each row divided by its sum, :math:`M_{ij} / \sum_j M_{ij}` (a row of zeros stays zero).

    Example::

        >>> row_normalised(np.array([[1, 3], [0, 0]])).tolist()
        [[0.25, 0.75], [0.0, 0.0]]
    """
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def plot_confusion(
    counts: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "Confusion matrix",
    annotate_below: int = 25,
) -> Path:
    """Draw the row-normalised confusion matrix with its class names and write it to ``path`` (PNG).

    Args:
        counts: (C, C) counts, rows true, columns predicted.
        labels: the C class names.
        path: the PNG to write (parent folders created).
        title: the figure's title.
        annotate_below: write the counts in the cells when C is below this.

    Returns:
        The path written.

    Example::

        >>> plot_confusion([[5, 1], [2, 7]], ["neg", "pos"], "confusion.png")  # doctest: +SKIP
    """
    cm = np.asarray(counts)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"expected a square confusion matrix (C, C), got shape {cm.shape}")
    if len(labels) != cm.shape[0]:
        raise ValueError(f"expected {cm.shape[0]} class names, got {len(labels)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    C = cm.shape[0]
    size = max(4.0, 0.45 * C + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    try:
        image = ax.imshow(row_normalised(cm), cmap="Blues", vmin=0.0, vmax=1.0)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
        ax.set_xticks(range(C), [str(x) for x in labels], rotation=90 if C > 6 else 0)
        ax.set_yticks(range(C), [str(x) for x in labels])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        if C < annotate_below:
            share = row_normalised(cm)
            for i in range(C):
                for j in range(C):
                    colour = "white" if share[i, j] > 0.5 else "black"
                    ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8, color=colour)
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100, format="png")
    finally:
        plt.close(fig)
    return out
