r"""The host side of a fused Triton cell kernel (:class:`TritonKernel`) and the launch helpers they share."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.cells.base import RecurrentCell
from unrolled.layers.scan.kernel import NAME_OF_ACTIVATION, ScanKernel
from unrolled.layers.scan.registry import scan_kernel

#: rows of the batch one program owns (tl.dot needs at least 16 on a GPU); unmeasured on GPU, a starting point
BLOCK_B = 16
#: the largest padded H (BLOCK_H) whose weight tiles one program keeps on chip for all steps: 64, for every
#: kernel. Compiled for sm_90 without a GPU (triton 3.9, ptxas -res-usage, BLOCK_B = 16, 8 warps): at
#: BLOCK_H = 64 the kernels use 64-255 registers and no stack (the GRU forward: 24 bytes); at BLOCK_H = 128 the Elman
#: forward spills (4.2 KB of stack per thread at 8 warps, 1.6 KB at 16). Larger layers take the streamed Elman
#: and leaky kernels (run_triton) or stay on the scan path (triton_runs).
MAX_ON_CHIP_H = 64
#: tile (units) of the streamed kernels, for layers whose weights do not fit on chip: each step streams W and
#: h_{t-1} through the program in STREAM_TILE x STREAM_TILE tiles (a starting point, unmeasured on GPU)
STREAM_TILE = 64
#: tl.dot precision: "ieee" (exact fp32, what the tests check); "tf32" is faster on Ampere and later
PRECISION = "ieee"
#: nonlinearity name -> the ``ACT`` code the kernels take as a compile-time constant
ACT_CODES = {"tanh": 0, "relu": 1, "sigmoid": 2}


def act_code(phi) -> int | None:
    """The ``ACT`` code of a cell's nonlinearity function, or None when the kernels lack it."""
    return ACT_CODES.get(NAME_OF_ACTIVATION.get(phi, ""))


def interpreting() -> bool:
    """True when Triton's CPU interpreter is on (``TRITON_INTERPRET=1``): kernels then run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def stream_tile() -> int:
    """:data:`STREAM_TILE`, read at call time (the tests shrink it)."""
    return STREAM_TILE


def block_h(H: int) -> int:
    """The power of two >= max(H, 16) that the kernels pad H to."""
    return max(16, 1 << (H - 1).bit_length())


@dataclass(frozen=True)
class Launch:
    """Grid and padded sizes of one launch over a (T, B, ·) sequence."""

    T: int
    B: int
    H: int
    grid: tuple[int]
    block_b: int
    block_h: int
    num_warps: int

    @classmethod
    def of(cls, T: int, B: int, H: int) -> Launch:
        bh = block_h(H)
        # more warps for larger tiles, to hold the on-chip weights in registers (a guess, unmeasured on GPU)
        return cls(T, B, H, ((B + BLOCK_B - 1) // BLOCK_B,), BLOCK_B, bh, 4 if bh <= 32 else 8)

    def flags(self, lengths: Tensor | None) -> dict:
        """The compile-time constants every kernel takes, and the launch's warps."""
        return {
            "HAS_LEN": lengths is not None,
            "BLOCK_B": self.block_b,
            "BLOCK_H": self.block_h,
            "PRECISION": PRECISION,
            "num_warps": self.num_warps,
        }


def lengths_arg(lengths: Tensor | None, like: Tensor) -> Tensor:
    """Lengths as the kernels read them: int64 on ``like``'s device (a dummy when there are none)."""
    return like if lengths is None else lengths.to(device=like.device, dtype=torch.int64).contiguous()


def grad_arg(g: Tensor | None, like: Tensor) -> Tensor:
    """An incoming gradient as a contiguous tensor, or ``like`` as a dummy pointer when it is None."""
    return like if g is None else g.contiguous()


class TritonKernel:
    """One cell kind's fused forward and backward loops, for :func:`~unrolled.layers.triton.run_triton`.

    Wraps the cell's :class:`~unrolled.layers.scan.ScanKernel` for what the paths share: :meth:`prepare` of the
    projected inputs, :meth:`params` (the tensors the recurrence reads, the cell's own parameters) and the
    reference step that the double backward differentiates. ``n_tiles``: the H x H weight tiles a program keeps
    on chip. Subclasses implement :meth:`forward` and :meth:`backward`, each one kernel launch over all T steps
    plus, after the backward, the weight gradients as one product over all T.
    """

    n_tiles: int = 1  # H x H weight tiles kept on chip (for reports; the limit is MAX_ON_CHIP_H)
    #: whether the kernel has a streamed variant for weights that do not fit on chip
    streams: bool = False
    #: tensors in the state, h first
    n_state: int = 1

    def __init__(self, cell: RecurrentCell):
        scan = scan_kernel(cell)
        if scan is None:
            raise ValueError(f"{type(cell).__name__} with these options has no scan kernel to share")
        self.cell: RecurrentCell = cell
        self.scan: ScanKernel = scan
        self.H: int = cell.hidden_size
        self.act: int = 0

    def fits(self) -> bool:
        """Whether the recurrent weights fit on chip (:data:`MAX_ON_CHIP_H`)."""
        return block_h(self.H) <= MAX_ON_CHIP_H

    def prepare(self, xp: Tensor) -> Tensor:
        return self.scan.prepare(self.cell, xp)

    def params(self) -> tuple[Tensor | None, ...]:
        return self.scan.params(self.cell)

    def forward(self, xp: Tensor, state0: tuple[Tensor, ...], P: tuple, lengths: Tensor | None) -> tuple:
        """xp (T, B, G), the initial state parts (B, ·) -> the outputs h_t (T, B, H), held past each end, and
        the buffers the backward reads."""
        raise NotImplementedError

    def finals(self, hs: Tensor, saved: tuple) -> tuple[Tensor, ...]:
        """The final state parts, each (B, ·): the last step of the held sequences (default: h only)."""
        return (hs[-1].clone(),)

    def backward(
        self,
        dout: Tensor | None,
        dfinal: tuple[Tensor | None, ...],
        state0: tuple[Tensor, ...],
        P: tuple,
        hs: Tensor,
        saved: tuple,
        lengths: Tensor | None,
        needs: tuple[bool, ...],
    ) -> tuple[Tensor, tuple, tuple]:
        """Gradients of xp (T, B, G), of the initial state parts and of :meth:`params` (None where ``needs``
        is False); ``dfinal`` holds the final state parts' gradients (None where there is none)."""
        raise NotImplementedError
