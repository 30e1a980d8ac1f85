"""Dropout on the recurrent state: variational dropout (Gal & Ghahramani 2016) and zoneout (Krueger et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor


def variational_mask(batch: int, size: int, p: float, like: Tensor) -> Tensor:
    """One dropout mask per sequence, reused at every time step: (B, size), entries 0 or 1/(1-p)."""
    keep = torch.full((batch, size), 1.0 - p, device=like.device, dtype=like.dtype)
    return torch.bernoulli(keep).div_(1.0 - p)


def zoneout_masks(T: int, shapes: list[torch.Size], p: float, like: Tensor) -> list[Tensor]:
    """Per-step, per-unit masks (T, *shape), True where a unit keeps its previous value."""
    return [torch.rand((T, *s), device=like.device) < p for s in shapes]
