r"""Variable-length BPTT (Merity et al. 2018, sec. 4.1): truncated-BPTT chunks of random length, so that every
token is at some point scored with little context and at others with much.

Each chunk's length is

.. math::
    t = \max(t_{min}, \lfloor x \rfloor), \quad x \sim \mathcal N(k, \sigma^2), \quad
    k = \begin{cases} \text{bptt} & \text{with probability } 1 - q \\ \text{bptt} / 2 & \text{else} \end{cases}

with :math:`q = 0.05`, :math:`\sigma = 5`, :math:`t_{min} = 5` (the AWD-LSTM code), cut at the row's end; the chunk
carries ``scale = t / bptt``, by which the objective multiplies its gradient (the paper rescales the learning rate;
the two agree unless the gradient is clipped, where the clip applies to the scaled gradient here).

The lengths of an epoch are drawn from a generator seeded by ``(seed, epoch)`` (:meth:`set_epoch`), so a run resumed
mid-epoch (:meth:`iter_from`) sees the same chunks.

Example::

    >>> batches = VariableBPTTBatches(batchify(torch.arange(1000), 4), bptt=70)
    >>> batches.set_epoch(0)
    >>> [c.inputs.shape[1] for c in batches][:3]               # e.g. [66, 71, 75]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from unrolled.data.stream import StreamChunk

__all__ = ["VariableBPTTBatches", "VariableChunk"]


@dataclass(frozen=True)
class VariableChunk(StreamChunk):
    """A :class:`~unrolled.data.StreamChunk` with its gradient scale (length / bptt)."""

    scale: float = 1.0


class VariableBPTTBatches:
    """Chunks of a batchified ``(B, N)`` stream with random lengths (see the module docstring).

    Args:
        data: (B, N) ids from :func:`~unrolled.data.batchify`. bptt: the base length. seed: seeds the lengths.
        p_half: probability of the half-length base. sigma: standard deviation. min_len: shortest chunk.
    """

    def __init__(
        self, data: torch.Tensor, bptt: int, seed: int = 0, p_half: float = 0.05, sigma: float = 5.0, min_len: int = 5
    ) -> None:
        if data.dim() != 2 or data.shape[1] < 2:
            raise ValueError(f"expected data of shape (B, N >= 2), got {tuple(data.shape)}")
        if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 2:
            raise ValueError(f"variable-length BPTT needs bptt >= 2, got {bptt!r}")
        self.data, self.bptt, self.seed = data, bptt, seed
        self.p_half, self.sigma, self.min_len = p_half, sigma, min_len
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw the chunk lengths of ``epoch``."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        steps, at, bounds = self.data.shape[1] - 1, 0, []
        while at < steps:
            base = self.bptt / 2 if float(torch.rand((), generator=gen)) < self.p_half else self.bptt
            length = max(self.min_len, int(base + self.sigma * float(torch.randn((), generator=gen))))
            end = min(at + length, steps)
            bounds.append((at, end))
            at = end
        self._bounds = bounds

    @property
    def batch_size(self) -> int:
        return self.data.shape[0]

    def __len__(self) -> int:
        return len(self._bounds)

    def __getitem__(self, i: int) -> VariableChunk:
        start, end = self._bounds[i]
        return VariableChunk(
            inputs=self.data[:, start:end],
            targets=self.data[:, start + 1 : end + 1],
            loss_start=0,
            carry=start > 0,
            start=start,
            save_at=end - start,
            scale=(end - start) / self.bptt,
        )

    def iter_from(self, n: int) -> Iterator[VariableChunk]:
        for i in range(n, len(self)):
            yield self[i]

    def __iter__(self) -> Iterator[VariableChunk]:
        return self.iter_from(0)
