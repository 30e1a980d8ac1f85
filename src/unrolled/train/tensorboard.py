"""Optional TensorBoard logging of the metrics rows (``TrainConfig.tensorboard=True``).

``torch.utils.tensorboard`` is imported only when this logger is created; without the ``tensorboard`` package the
constructor raises a one-line ``ImportError`` saying how to install it. Scalars are named ``<split>/<column>``
(e.g. ``train/loss``, ``valid/ppl``) and indexed by the global step.

Example::

    >>> tb = TensorBoardLogger("runs/x/tensorboard", metric="ppl")
    >>> tb.log({"step": 100, "split": "valid", "loss": 4.6, "metric": 99.5})
    >>> tb.close()
"""

from __future__ import annotations

import math
import os
from typing import Any

__all__ = ["TensorBoardLogger", "check_tensorboard"]

_MISSING = (
    "TrainConfig.tensorboard=True needs the tensorboard package: pip install tensorboard "
    "(or pip install 'unrolled[tensorboard]'), or set tensorboard=False"
)


def check_tensorboard() -> None:
    """Raise a one-line ``ImportError`` unless ``torch.utils.tensorboard`` can be imported."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise ImportError(_MISSING) from None

_SCALARS = ("loss", "lr", "grad_norm", "tokens_per_s")


class TensorBoardLogger:
    """Writes metrics rows as TensorBoard scalars.

    Args:
        log_dir: event-file folder.
        metric: name under which the ``metric`` column is logged (``ppl``, ``bpc``; ``loss`` is not repeated).
    """

    def __init__(self, log_dir: str | os.PathLike, metric: str) -> None:
        check_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.metric = metric
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def log(self, row: dict[str, Any]) -> None:
        names = _SCALARS if self.metric == "loss" else (*_SCALARS, "metric")
        for name in names:
            value = row.get(name)
            if value is not None and math.isfinite(value):
                tag = self.metric if name == "metric" else name
                self.writer.add_scalar(f"{row['split']}/{tag}", value, global_step=row["step"])

    def close(self) -> None:
        self.writer.close()
