"""Per-epoch tqdm progress bar with loss, metric, throughput, gradient norm and learning rate.

The bar counts optimizer steps (its total is the epoch's batch count when the data has ``len()``, capped by
``max_steps``), so tqdm's ETA is the time left in the epoch. Messages printed through :meth:`ProgressBar.write`
go above the bar instead of garbling it. A disabled bar (``progress=False``, or any rank but 0) prints nothing
but still forwards :meth:`write` to the stream.

Example::

    >>> bar = ProgressBar(enabled=True)
    >>> bar.start_epoch(epoch=1, epochs=10, total=1327, initial=0)
    >>> bar.update(postfix={"loss": "4.61", "ppl": "100.3", "tok/s": "51.2k"})
    >>> bar.close()
"""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm.auto import tqdm

__all__ = ["ProgressBar", "format_postfix"]


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.0f}"


def format_postfix(
    loss: float, metric: str, metric_value: float, tokens_per_s: float | None, grad_norm: float | None, lr: float
) -> dict[str, str]:
    """Short strings for the bar: ``loss``, the metric (unless it is the loss), ``tok/s``, ``gnorm``, ``lr``."""
    postfix = {"loss": f"{loss:.4f}"}
    if metric != "loss":
        postfix[metric] = f"{metric_value:.4g}"
    if tokens_per_s is not None:
        postfix["tok/s"] = _si(tokens_per_s)
    if grad_norm is not None:
        postfix["gnorm"] = f"{grad_norm:.3g}"
    postfix["lr"] = f"{lr:.3g}"
    return postfix


class ProgressBar:
    """One tqdm bar per epoch.

    Args:
        enabled: show the bar.
        file: stream for the bar and messages (default ``sys.stderr``).
    """

    def __init__(self, enabled: bool, file: IO[str] | None = None) -> None:
        self.enabled = enabled
        self.file = file
        self._bar: Any = None

    def start_epoch(self, epoch: int, epochs: int, total: int | None, initial: int) -> None:
        """Open the bar of 1-based ``epoch`` out of ``epochs``, starting at ``initial`` steps done."""
        self.close()
        if self.enabled:
            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=f"epoch {epoch}/{epochs}",
                unit="step",
                dynamic_ncols=True,
                file=self.file or sys.stderr,
                leave=True,
            )

    def update(self, steps: int = 1, postfix: dict[str, str] | None = None) -> None:
        if self._bar is not None:
            if postfix is not None:
                self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(steps)

    def write(self, message: str) -> None:
        """Print one line above the bar (or plainly when there is no bar)."""
        tqdm.write(message, file=self.file or sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
