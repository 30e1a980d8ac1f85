"""When ``backend="auto"`` should take the scan path over torch's fused kernel (CPU only)."""

from __future__ import annotations

from torch import Tensor

from unrolled.cells.base import RecurrentCell
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.layers.scan.registry import supports_scan

#: Cells for which the scan path beats torch's own fused CPU kernel when gradients are needed (nn.RNN / nn.GRU
#: have no oneDNN path on CPU): cell class -> (also for inference, largest batch). Measured with
#: benchmarks/cells.py (BENCHMARKS.md): Elman trains at 0.66-0.94x nn.RNN's time at every size measured (its
#: inference is a tie, 0.92-1.05x); GRU trains at 0.5-0.7x nn.GRU's time up to B = 16, at 0.8-1.1x at B = 32
#: (depending on the process's allocator state) and 1.05-1.15x from B = 64, and its inference is slower at
#: small H. LSTM is absent: oneDNN's LSTM is faster.
SCAN_BEATS_FUSED_ON_CPU: dict[type, tuple[bool, int | None]] = {
    ElmanCell: (False, None),
    GRUCell: (False, 16),
}


def prefer_scan_over_fused(cells: list[RecurrentCell], x: Tensor, batch: int, needs_grad: bool) -> bool:
    """Whether a fusable layer of ``cells`` should run the scan path instead of torch's kernel, for inputs on
    ``x``'s device with ``batch`` sequences (CPU only, see :data:`SCAN_BEATS_FUSED_ON_CPU`)."""
    if x.device.type != "cpu":
        return False
    for cell in cells:
        rule = SCAN_BEATS_FUSED_ON_CPU.get(type(cell))
        if rule is None or not supports_scan(cell):
            return False
        also_inference, max_batch = rule
        if not (also_inference or needs_grad) or (max_batch is not None and batch > max_batch):
            return False
    return True
