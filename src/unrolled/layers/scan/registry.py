"""Which cells have a scan kernel: :data:`SCAN_KERNELS`, :func:`scan_kernel`, :func:`supports_scan`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from unrolled.cells.base import RecurrentCell
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.cells.leaky import LeakyCell
from unrolled.cells.lstm import LSTMCell
from unrolled.layers.scan.elman import ElmanScan
from unrolled.layers.scan.gru import GRUAfterScan, GRUBeforeScan
from unrolled.layers.scan.kernel import NAME_OF_ACTIVATION, ScanKernel
from unrolled.layers.scan.layernorm import LayerNormGRUScan, LayerNormLSTMScan
from unrolled.layers.scan.layernorm_compiled import compiled_ln_lstm
from unrolled.layers.scan.leaky import LeakyScan
from unrolled.layers.scan.lstm import LSTMScan


def _lstm(cell: LSTMCell) -> ScanKernel | None:
    return LSTMScan(cell) if cell.proj_size == 0 else None


def _elman(cell: ElmanCell) -> ScanKernel | None:
    return ElmanScan(cell) if cell.phi in NAME_OF_ACTIVATION else None


def _leaky(cell: LeakyCell) -> ScanKernel | None:
    return LeakyScan(cell) if cell.phi in NAME_OF_ACTIVATION else None


def _ln_lstm(cell: LayerNormLSTMCell) -> ScanKernel:
    """The compiled (numba) kernel on CPU for float32/float64 when numba imports, else the torch kernel."""
    return compiled_ln_lstm(cell) or LayerNormLSTMScan(cell)


def _gru(cell: GRUCell) -> ScanKernel:
    return GRUAfterScan(cell) if cell.reset == "after" else GRUBeforeScan(cell)


#: cell class -> factory of its kernel (None where the cell's configuration has none, e.g. LSTM projection).
SCAN_KERNELS: dict[type, Callable[[Any], ScanKernel | None]] = {
    ElmanCell: _elman,
    LSTMCell: _lstm,
    GRUCell: _gru,
    LeakyCell: _leaky,
    LayerNormLSTMCell: _ln_lstm,
    LayerNormGRUCell: LayerNormGRUScan,
}


def scan_kernel(cell: RecurrentCell) -> ScanKernel | None:
    """The scan kernel for this cell (exact class match), or None when it has none."""
    factory = SCAN_KERNELS.get(type(cell))
    return None if factory is None else factory(cell)


def supports_scan(cell: RecurrentCell) -> bool:
    """True when :func:`~unrolled.layers.scan.scan` can run this cell."""
    return scan_kernel(cell) is not None
