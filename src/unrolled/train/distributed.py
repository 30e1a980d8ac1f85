"""Distributed data parallel training: process-group setup and the few collectives the trainer needs.

Each of :math:`W` processes (ranks) holds a full copy of the model, trains on its own shard of every global batch
and, through ``torch.nn.parallel.DistributedDataParallel``, averages gradients over ranks in the backward pass
(Li et al. 2020, "PyTorch Distributed"). With equal shards and objectives that return means, the averaged gradient
equals the gradient of the mean loss over the global batch, so :math:`W` processes on batches of :math:`B/W`
follow the same trajectory as one process on batches of :math:`B` (up to floating-point summation order).

The trainer uses a :class:`DistributedContext` when the caller passes one or when the process was launched by
``torchrun`` (``WORLD_SIZE > 1`` in the environment). Backend: ``nccl`` on CUDA, ``gloo`` on CPU. Only rank 0
writes files and shows progress; the logged losses are all-reduced so every rank sees the global means.

Devices (:func:`unrolled.train.trainer.resolve_device`): with ``device="auto"`` (or ``cuda``) each of the
``LOCAL_WORLD_SIZE`` processes on a machine takes one GPU, ``cuda:LOCAL_RANK``, and a machine with fewer GPUs than
processes is refused in one line naming both numbers; ``device="cpu"`` trains every rank on the CPU with ``gloo``.

Example (``torchrun --nproc-per-node 2 train.py``)::

    >>> ctx = DistributedContext.from_env()        # None outside torchrun
    >>> with Trainer(model, objective, config, run_dir="runs/x", distributed=ctx) as trainer:
    ...     trainer.fit(train_data, valid_data)     # data must provide shard(rank, world)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "DistributedContext",
    "all_gather_objects",
    "all_reduce_sum",
    "barrier",
    "destroy_process_group",
    "init_process_group",
    "local_world_size_from_env",
]


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}: expected an integer, got {raw!r}") from None


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in a distributed job.

    Args:
        rank: index of this process, ``0 <= rank < world_size``.
        world_size: number of processes.
        local_rank: index on this machine (selects the CUDA device ``cuda:local_rank``).
        backend: ``gloo``, ``nccl`` or ``None`` to choose from the device (``nccl`` on CUDA, else ``gloo``).
        init_method: torch.distributed rendezvous URL; the default ``env://`` reads ``MASTER_ADDR`` and
            ``MASTER_PORT``.
        local_world_size: processes on this machine (``torchrun``'s ``LOCAL_WORLD_SIZE``); ``None`` when unknown
            (then at least ``local_rank + 1``). More processes than GPUs is refused for ``device="auto"``.
    """

    rank: int
    world_size: int
    local_rank: int = 0
    backend: str | None = None
    init_method: str = "env://"
    local_world_size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.world_size, int) or self.world_size < 1:
            raise ValueError(f"DistributedContext.world_size: expected an int >= 1, got {self.world_size!r}")
        if not isinstance(self.rank, int) or not 0 <= self.rank < self.world_size:
            raise ValueError(f"DistributedContext.rank: expected an int in [0, {self.world_size}), got {self.rank!r}")
        if not isinstance(self.local_rank, int) or self.local_rank < 0:
            raise ValueError(f"DistributedContext.local_rank: expected an int >= 0, got {self.local_rank!r}")
        if self.local_world_size is not None and (
            not isinstance(self.local_world_size, int) or not self.local_rank < self.local_world_size
        ):
            raise ValueError(
                f"DistributedContext.local_world_size: expected None or an int > local_rank={self.local_rank}, "
                f"got {self.local_world_size!r}"
            )
        if self.backend not in (None, "gloo", "nccl"):
            raise ValueError(f"DistributedContext.backend: expected gloo, nccl or None, got {self.backend!r}")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DistributedContext | None:
        """Context from ``torchrun``'s ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` / ``LOCAL_WORLD_SIZE``; ``None``
        unless ``WORLD_SIZE > 1``."""
        environ = os.environ if environ is None else environ
        world_size = _env_int(environ, "WORLD_SIZE", 1)
        if world_size <= 1:
            return None
        local_rank = _env_int(environ, "LOCAL_RANK", 0)
        local_world_size = _env_int(environ, "LOCAL_WORLD_SIZE", 0) or None
        return cls(
            rank=_env_int(environ, "RANK", 0),
            world_size=world_size,
            local_rank=local_rank,
            local_world_size=local_world_size,
        )


def local_world_size_from_env(local_rank: int, environ: Mapping[str, str] | None = None) -> int:
    """Processes on this machine: ``LOCAL_WORLD_SIZE`` (set by ``torchrun``), else ``local_rank + 1`` (the least
    it can be)."""
    environ = os.environ if environ is None else environ
    return _env_int(environ, "LOCAL_WORLD_SIZE", local_rank + 1)


def init_process_group(ctx: DistributedContext, device: torch.device) -> bool:
    """Join the process group described by ``ctx``; returns whether this call created it (and so must destroy
    it). An already initialised group is reused if its rank and size match ``ctx``."""
    if dist.is_initialized():
        if dist.get_rank() != ctx.rank or dist.get_world_size() != ctx.world_size:
            raise ValueError(
                f"a process group is already initialised as rank {dist.get_rank()} of {dist.get_world_size()}, "
                f"but the DistributedContext says rank {ctx.rank} of {ctx.world_size}"
            )
        return False
    if ctx.init_method == "env://":
        missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
        if missing:
            raise ValueError(
                f"distributed training with init_method env:// needs {' and '.join(missing)} set "
                "in the environment (torchrun sets them)"
            )
    backend = ctx.backend or ("nccl" if device.type == "cuda" else "gloo")
    dist.init_process_group(backend=backend, init_method=ctx.init_method, rank=ctx.rank, world_size=ctx.world_size)
    return True


def destroy_process_group() -> None:
    """Tear down the default process group if one exists."""
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place and return it."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    """Wait until every rank gets here."""
    dist.barrier()


def all_gather_objects(obj: Any, world_size: int) -> list[Any]:
    """Gather one picklable object per rank (in memory only; nothing is written with pickle)."""
    gathered: list[Any] = [None] * world_size
    dist.all_gather_object(gathered, obj)
    return gathered
