"""Seeding and capturing the random number generators that training touches.

A run is reproducible when the Python ``random``, NumPy global and torch (CPU and every CUDA device) generators
start from the same seed; a resumed run continues exactly when they are restored to the state they had when the
checkpoint was written. :func:`get_rng_state` / :func:`set_rng_state` capture and restore all four at once.

``torch.use_deterministic_algorithms`` is not switched on: on CPU the kernels used by recurrent models are already
deterministic; on CUDA some (e.g. ``index_add_`` in embedding backward) are not, which can make GPU runs differ in
the last bits.

Example::

    >>> seed_everything(1234)
    >>> saved = get_rng_state()
    >>> a = torch.rand(3)
    >>> set_rng_state(saved)
    >>> torch.equal(a, torch.rand(3))
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["RNGState", "get_rng_state", "seed_everything", "set_rng_state"]


@dataclass
class RNGState:
    """Snapshot of every generator.

    Args:
        torch_cpu: ``torch.get_rng_state()`` (uint8 tensor).
        torch_cuda: one ``torch.cuda.get_rng_state(i)`` per device, or ``None`` when CUDA was not initialised.
        numpy: ``np.random.get_state()`` tuple ``(name, keys, pos, has_gauss, cached_gaussian)``, or ``None``
            when only the torch generators were captured.
        python: ``random.getstate()`` tuple ``(version, internal_state, gauss_next)``, or ``None`` likewise.
    """

    torch_cpu: torch.Tensor
    torch_cuda: list[torch.Tensor] | None
    numpy: tuple | None
    python: tuple | None


def seed_everything(seed: int) -> None:
    """Seed Python ``random``, NumPy's global generator and torch (CPU and all CUDA devices) with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed_everything: expected an int in [0, 2**32), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def get_rng_state(torch_only: bool = False) -> RNGState:
    """Capture the state of every generator (CUDA only if CUDA has been initialised in this process).

    Args:
        torch_only: capture only the torch generators (about 1 us instead of about 50 us for NumPy + Python), for
            snapshots taken at every training step.
    """
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return RNGState(
        torch_cpu=torch.get_rng_state(),
        torch_cuda=cuda,
        numpy=None if torch_only else np.random.get_state(),
        python=None if torch_only else random.getstate(),
    )


def set_rng_state(state: RNGState) -> None:
    """Restore the generators captured by :func:`get_rng_state` (those left ``None`` are not touched).

    CUDA states are restored when CUDA is available; if the number of devices differs, only the devices present
    in both are restored.
    """
    torch.set_rng_state(state.torch_cpu)
    if state.torch_cuda is not None and torch.cuda.is_available():
        for index, cuda_state in enumerate(state.torch_cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)
    if state.numpy is not None:
        np.random.set_state(state.numpy)
    if state.python is not None:
        random.setstate(state.python)
