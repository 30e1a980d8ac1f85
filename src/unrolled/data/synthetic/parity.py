"""Parity of bits: the XOR of two distant marked bits, or the parity of the whole sequence."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.data.synthetic.base import SyntheticTask, check_count


@dataclass(frozen=True)
class Parity(SyntheticTask):
    r"""Parity of bits (Hochreiter & Schmidhuber 1997, experiment 5 in spirit; Bengio et al. 1994's latching).

    Each step carries a random bit :math:`b_t \in \{0, 1\}` and a marker :math:`m_t`. With ``marked=True`` (the
    ``"xor"`` task) two steps are marked, one in the first half and one in the second, and the target is
    :math:`b_{t_1} \oplus b_{t_2}`; otherwise (``"parity"``) every step is marked and the target is
    :math:`\bigoplus_t b_t`. Both classes are equally likely whatever the model sees short of the full dependency,
    so the chance baseline is :math:`\ln 2` nats (accuracy 1/2).

    Shape:
        - x: (B, T, 2), columns (bit, marker); y: (B,) classes in {0, 1} (O = 2).

    Example::

        >>> x, y = Parity().batch(32, 50, torch.Generator().manual_seed(0))
    """

    name: str = "xor"
    description: str = "XOR of two distant marked bits"
    loss: str = "ce_last"
    input_size: int = 2
    output_size: int = 2
    min_length: int = 2
    marked: bool = True

    def baseline(self, length: int) -> float:
        return math.log(2.0)

    def baseline_text(self) -> str:
        return "ln 2 = 0.6931 nats (a coin flip)"

    def batch(self, n: int, length: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        n, T = check_count(n), self.check_length(length)
        bits = torch.randint(0, 2, (n, T), generator=generator)  # (B, T)
        if self.marked:
            half = T // 2
            first = torch.randint(0, half, (n,), generator=generator)
            second = torch.randint(half, T, (n,), generator=generator)
            marks = torch.zeros(n, T, dtype=torch.long)
            rows = torch.arange(n)
            marks[rows, first] = 1
            marks[rows, second] = 1
        else:
            marks = torch.ones(n, T, dtype=torch.long)
        y = (bits * marks).sum(1) % 2  # (B,)
        return torch.stack([bits, marks], dim=-1).float(), y  # (B, T, 2), (B,)
