"""Which cells have a fused Triton kernel: :data:`TRITON_KERNELS` and :func:`triton_kernel`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from unrolled.cells.base import RecurrentCell
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.cells.leaky import LeakyCell
from unrolled.cells.lstm import LSTMCell
from unrolled.layers.triton.elman import elman_kernel
from unrolled.layers.triton.gru import gru_kernel
from unrolled.layers.triton.kernel import TritonKernel
from unrolled.layers.triton.layernorm import ln_lstm_kernel
from unrolled.layers.triton.layernorm_gru import ln_gru_kernel
from unrolled.layers.triton.leaky import leaky_kernel
from unrolled.layers.triton.lstm import lstm_kernel

#: cell class -> factory of its Triton kernel (None where the cell's configuration has none)
TRITON_KERNELS: dict[type, Callable[[Any], TritonKernel | None]] = {
    ElmanCell: elman_kernel,
    LeakyCell: leaky_kernel,
    GRUCell: gru_kernel,
    LayerNormLSTMCell: ln_lstm_kernel,
    LayerNormGRUCell: ln_gru_kernel,
    LSTMCell: lstm_kernel,
}


def triton_kernel(cell: RecurrentCell) -> TritonKernel | None:
    """The Triton kernel for this cell (exact class match), or None when it has none."""
    factory = TRITON_KERNELS.get(type(cell))
    return None if factory is None else factory(cell)
