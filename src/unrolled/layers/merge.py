"""How the two directions of a bidirectional layer are combined."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

MERGES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "concat": lambda f, b: torch.cat([f, b], -1),  # (..., 2O)
    "sum": lambda f, b: f + b,  # (..., O)
    "mean": lambda f, b: (f + b) * 0.5,  # (..., O)
}


def get_merge(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    try:
        return MERGES[name]
    except KeyError:
        raise ValueError(f"unknown merge mode {name!r}; expected one of {sorted(MERGES)}") from None
