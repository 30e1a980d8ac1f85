"""The copy-memory task (Hochreiter & Schmidhuber 1997, experiment 2; the form of Arjovsky et al. 2016, §4.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from unrolled.data.synthetic.base import SyntheticTask, check_count

#: symbols: 0 blank, 1..8 the data alphabet, 9 the delimiter ("now recall")
BLANK, DELIMITER, ALPHABET, COPIED = 0, 9, 8, 10


@dataclass(frozen=True)
class CopyMemory(SyntheticTask):
    r"""Copy-memory: read 10 symbols, wait T steps, then write them back (Arjovsky et al. 2016, §4.1).

    The input sequence has T + 20 steps: 10 symbols drawn uniformly from the alphabet {1, ..., 8}, then T - 1
    blanks (0), the delimiter 9, then 10 blanks. The target is T + 10 blanks followed by the 10 symbols. A model
    that outputs blanks and then a uniform guess over the 8 symbols scores the chance baseline
    :math:`10 \ln 8 / (T + 20)` nats per step (Arjovsky et al. 2016).

    Shape:
        - x: (B, T + 20, 10), one-hot symbols; y: (B, T + 20), classes in 0..8 (O = 9).

    Example::

        >>> x, y = CopyMemory().batch(32, 100, torch.Generator().manual_seed(0))   # x (32, 120, 10)
    """

    name: str = "copy"
    description: str = "copy-memory: recall 10 symbols after T blanks (Arjovsky et al. 2016)"
    loss: str = "ce_steps"
    input_size: int = DELIMITER + 1
    output_size: int = ALPHABET + 1
    min_length: int = 1

    def baseline(self, length: int) -> float:
        return COPIED * math.log(ALPHABET) / (length + 2 * COPIED)

    def baseline_text(self) -> str:
        return "10 ln 8 / (T+20) nats per step (blanks, then a uniform guess)"

    def sequence_length(self, length: int) -> int:
        return length + 2 * COPIED

    def batch(self, n: int, length: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        n, T = check_count(n), self.check_length(length)
        symbols = torch.randint(1, ALPHABET + 1, (n, COPIED), generator=generator)  # (B, 10)
        seq = torch.full((n, T + 2 * COPIED), BLANK, dtype=torch.long)  # (B, T + 20)
        seq[:, :COPIED] = symbols
        seq[:, T + COPIED - 1] = DELIMITER
        y = torch.full((n, T + 2 * COPIED), BLANK, dtype=torch.long)
        y[:, T + COPIED :] = symbols
        return F.one_hot(seq, DELIMITER + 1).float(), y  # (B, T + 20, 10), (B, T + 20)
