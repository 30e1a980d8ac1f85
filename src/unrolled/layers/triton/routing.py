"""When a layer should run the fused Triton kernels: :func:`triton_runs`."""

from __future__ import annotations

import importlib.util
from functools import cache

import torch

from unrolled.cells.base import RecurrentCell
from unrolled.layers.triton.registry import triton_kernel


@cache
def triton_installed() -> bool:
    """Whether :mod:`triton` can be imported (without importing it)."""
    return importlib.util.find_spec("triton") is not None


def triton_runs(cell: RecurrentCell, device: torch.device | str) -> bool:
    """Whether :func:`~unrolled.layers.triton.run_triton` should run ``cell`` on ``device``: a CUDA device,
    Triton installed, a cell with a Triton kernel whose recurrent weights fit on chip and float32 parameters
    (under autocast too: the kernels then run the recurrence in float32, :mod:`unrolled.layers.precision`).
    False on the CPU (even under ``TRITON_INTERPRET=1``: the interpreter is for tests), so nothing
    changes without a GPU or without Triton. The streamed Elman and leaky kernels (weights too large for the
    chip) are not routed: :func:`~unrolled.layers.triton.run_triton` runs them when called directly, until a GPU
    measures them."""
    device = torch.device(device)
    if device.type != "cuda" or not triton_installed():
        return False
    kernel = triton_kernel(cell)
    if kernel is None or not kernel.fits():
        return False
    return all(p.dtype == torch.float32 for p in kernel.params() if p is not None)
