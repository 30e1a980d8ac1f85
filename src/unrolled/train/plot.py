"""Loss-curve PNG of a run (``run_dir/loss.png``), drawn with Matplotlib's Agg canvas.

The figure is built on a :class:`matplotlib.figure.Figure` with a ``FigureCanvasAgg`` directly, so no pyplot
global state or interactive backend is touched. It shows, against the global step: the training loss of each log
interval (thin line), the mean training loss of each epoch (markers) and each validation loss (line + markers).
The file is replaced atomically.

Example::

    >>> plot_loss_curves("runs/x/loss.png", train=[(50, 5.1), (100, 4.7)], epochs=[(100, 4.9)],
    ...                  valid=[(100, 4.8)])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["plot_loss_curves"]

Points = Sequence[tuple[int, float]]


def plot_loss_curves(path: str | os.PathLike, train: Points, epochs: Points, valid: Points) -> None:
    """Draw the loss curves and write them to ``path`` as a PNG.

    Args:
        path: output file.
        train: ``(step, loss)`` per training log interval.
        epochs: ``(step, loss)`` per epoch (mean training loss, at the epoch's last step).
        valid: ``(step, loss)`` per validation pass.
    """
    path = Path(path)
    figure = Figure(figsize=(7.0, 4.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for points, style, label in (
        (train, dict(linewidth=0.8, alpha=0.6, color="tab:blue"), "train (interval)"),
        (epochs, dict(marker="o", linestyle="none", color="tab:blue"), "train (epoch)"),
        (valid, dict(marker="s", color="tab:orange"), "valid"),
    ):
        if points:
            steps, losses = zip(*points)
            axes.plot(steps, losses, label=label, **style)
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats)")
    axes.grid(True, alpha=0.3)
    if train or epochs or valid:
        axes.legend()
    figure.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    figure.savefig(tmp, format="png")
    os.replace(tmp, path)
