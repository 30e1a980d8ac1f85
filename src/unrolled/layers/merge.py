"""How the two directions of a bidirectional layer are combined, resolved once when a layer is built."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor


def _concat(f: Tensor, b: Tensor) -> Tensor:
    return torch.cat([f, b], -1)  # (..., O), (..., O) -> (..., 2O)


def _sum(f: Tensor, b: Tensor) -> Tensor:
    return f + b  # (..., O)


def _mean(f: Tensor, b: Tensor) -> Tensor:
    return (f + b) * 0.5  # (..., O)


MERGES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "concat": _concat,
    "sum": _sum,
    "mean": _mean,
}


def get_merge(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    try:
        return MERGES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown merge mode {name!r}; expected one of {sorted(MERGES)}") from None


def _keep(y: Tensor) -> Tensor:
    return y


def _split_and_merge(merge: Callable[[Tensor, Tensor], Tensor], y: Tensor) -> Tensor:
    return merge(*y.chunk(2, -1))  # (..., 2O) -> (..., O)


def get_concatenated_merge(name: str, directions: int) -> Callable[[Tensor], Tensor]:
    """The merge for outputs whose directions arrive already concatenated on the last axis (what torch's fused
    bidirectional kernels return): the identity for one direction or ``"concat"``."""
    merge = get_merge(name)
    if directions == 1 or merge is _concat:
        return _keep
    return functools.partial(_split_and_merge, merge)
