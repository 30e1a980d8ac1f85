r"""Locked (variational) dropout: one mask per sequence, shared by every time step (Gal & Ghahramani 2016; the
``LockedDropout`` of Merity et al. 2018).

.. math::
    y_{b,t,i} = x_{b,t,i}\, \frac{m_{b,i}}{1 - p}, \qquad m_{b,i} \sim \mathrm{Bernoulli}(1 - p)

Identity in evaluation or with ``p = 0``.

Shape:
    - input: (B, T, I) (batch first); output: the same.

Example::

    >>> drop = LockedDropout(0.4)
    >>> y = drop(torch.randn(4, 10, 8))                  # the same units dropped at all 10 steps of a row
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["LockedDropout"]


class LockedDropout(nn.Module):
    """See the module docstring. Args: p: drop probability in [0, 1)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"LockedDropout: expected p in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.dim() != 3:
            raise ValueError(f"LockedDropout expected a (B, T, I) input, got shape {tuple(x.shape)}")
        keep = x.new_full((x.shape[0], 1, x.shape[2]), 1.0 - self.p)
        mask = torch.bernoulli(keep).div_(1.0 - self.p)  # (B, 1, I): one mask per row, every step
        return x * mask  # (B, T, I)

    def extra_repr(self) -> str:
        return f"p={self.p}"
