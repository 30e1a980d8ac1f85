"""The trainer's side of the data contract: how it walks any iterable of batches.

Training data can be any iterable of batches. Optional methods refine how it is used:

- ``set_epoch(epoch)``: called with the 0-based epoch before each epoch (reshuffle deterministically);
- ``iter_from(n)``: an iterator that starts at batch index ``n`` (resuming mid-epoch); without it the trainer
  iterates from the start and skips ``n`` batches;
- ``shard(rank, world)``: this rank's part of every global batch (distributed training; required there); the
  shards must yield the same number of batches on every rank;
- ``__len__``: batches per epoch, for the progress bar and its ETA.

A batch may carry a boolean ``carry`` attribute: ``False`` resets the carried recurrent state to ``None`` for that
batch (e.g. at the start of a new document). Batches are moved to the training device by :func:`move_to_device`.

Example::

    >>> class Chunks:
    ...     def __init__(self, x): self.x = x                  # (N, B, T) pre-cut chunks
    ...     def __len__(self): return len(self.x)
    ...     def __iter__(self): return self.iter_from(0)
    ...     def iter_from(self, n): return iter(self.x[n:])
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import torch

__all__ = ["batch_carries_state", "data_length", "epoch_iterator", "move_to_device", "shard_data"]


def data_length(data: Iterable[Any]) -> int | None:
    """``len(data)`` if it is defined, else ``None``."""
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return None


def epoch_iterator(data: Iterable[Any], start: int) -> Iterator[Any]:
    """Iterator over ``data`` beginning at batch index ``start`` (``iter_from`` when available, else skipping)."""
    if start == 0:
        return iter(data)
    if hasattr(data, "iter_from"):
        return iter(data.iter_from(start))
    iterator = iter(data)
    for _ in itertools.islice(iterator, start):
        pass
    return iterator


def shard_data(data: Iterable[Any], rank: int, world_size: int, role: str) -> Iterable[Any]:
    """``data.shard(rank, world_size)``; ``role`` (``train``/``valid``) names the data in the error."""
    if not hasattr(data, "shard"):
        raise TypeError(
            f"distributed training needs {role} data with a shard(rank, world) method, got {type(data).__name__}"
        )
    return data.shard(rank, world_size)


def batch_carries_state(batch: Any) -> bool:
    """Whether the carried state flows into ``batch`` (its ``carry`` attribute, ``True`` if absent)."""
    return bool(getattr(batch, "carry", True))


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a batch to ``device``.

    Handles tensors, objects with a ``to(device)`` method (which decide what moves: e.g.
    :class:`~unrolled.data.PaddedBatch` keeps its ``lengths`` and ``indices`` on the CPU, where
    ``pack_padded_sequence`` wants them), dataclasses without one (field by field), and tuples / named tuples
    / lists / dicts of these; anything else is returned unchanged. CPU-to-CUDA copies of tensors are non-blocking.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if not isinstance(batch, type) and callable(getattr(batch, "to", None)):
        return batch.to(device)
    if isinstance(batch, tuple):
        items = [move_to_device(item, device) for item in batch]
        return type(batch)(*items) if hasattr(batch, "_fields") else tuple(items)
    if isinstance(batch, list):
        return [move_to_device(item, device) for item in batch]
    if isinstance(batch, dict):
        return type(batch)((key, move_to_device(value, device)) for key, value in batch.items())
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: move_to_device(getattr(batch, f.name), device) for f in dataclasses.fields(batch) if f.init}
        return dataclasses.replace(batch, **changes)
    return batch
