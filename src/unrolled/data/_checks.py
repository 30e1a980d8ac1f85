"""Argument checks shared by the batchers (one-line errors that say what was expected)."""

from __future__ import annotations

import torch


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` if it is an int (not a bool) ``>= minimum``, else raise a one-line error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected {name} to be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"expected {name} >= {minimum}, got {value}")
    return value


def check_rank(rank: object, world_size: object) -> tuple[int, int]:
    """Validate a (rank, world_size) pair for sharding."""
    world = check_int("world_size", world_size, 1)
    r = check_int("rank", rank, 0)
    if r >= world:
        raise ValueError(f"expected 0 <= rank < world_size={world}, got rank={r}")
    return r, world


def check_index_tensor(name: str, value: object, ndim: int) -> torch.Tensor:
    """Return ``value`` if it is an integer tensor with ``ndim`` dimensions."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor of token ids, got {type(value).__name__}")
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise TypeError(f"expected {name} to hold integer token ids, got dtype {value.dtype}")
    if value.dim() != ndim:
        raise ValueError(f"expected {name} to be {ndim}-D, got shape {tuple(value.shape)}")
    return value
