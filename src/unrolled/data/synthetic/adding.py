"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; the variant of Le et al. 2015)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.data.synthetic.base import SyntheticTask, check_count


@dataclass(frozen=True)
class AddingProblem(SyntheticTask):
    r"""The adding problem: sum the two marked numbers of a long sequence.

    Each step carries two features: a value :math:`v_t \sim U(0, 1)` and a marker :math:`m_t \in \{0, 1\}`.
    Exactly two steps are marked, one drawn uniformly from the first half and one from the second half, so the
    first marked value must be remembered for at least T/2 steps. The target is
    :math:`y = v_{t_1} + v_{t_2}`, the sum of two independent U(0, 1), whose density is triangular on [0, 2]
    with mean 1 and variance 1/6. Always predicting 1 therefore gives MSE 1/6 (the chance baseline), whatever T.

    Shape:
        - x: (B, T, 2), columns (value, marker); y: (B, 1).

    Example::

        >>> x, y = AddingProblem().batch(32, 100, torch.Generator().manual_seed(0))
    """

    name: str = "adding"
    description: str = "adding problem: sum of the two marked values (Hochreiter & Schmidhuber 1997)"
    loss: str = "mse_last"
    input_size: int = 2
    output_size: int = 1
    min_length: int = 2

    def baseline(self, length: int) -> float:
        return 1.0 / 6.0

    def baseline_text(self) -> str:
        return "MSE 1/6 = 0.1667 (predict the mean sum, 1)"

    def batch(self, n: int, length: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        n, T = check_count(n), self.check_length(length)
        values = torch.rand(n, T, generator=generator)  # (B, T)
        half = T // 2
        first = torch.randint(0, half, (n,), generator=generator)  # (B,) in [0, T/2)
        second = torch.randint(half, T, (n,), generator=generator)  # (B,) in [T/2, T)
        marks = torch.zeros(n, T)
        rows = torch.arange(n)
        marks[rows, first] = 1.0
        marks[rows, second] = 1.0
        y = (values[rows, first] + values[rows, second]).unsqueeze(1)  # (B, 1)
        return torch.stack([values, marks], dim=-1), y  # (B, T, 2), (B, 1)
