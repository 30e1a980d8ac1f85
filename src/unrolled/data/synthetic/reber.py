"""The embedded Reber grammar (Reber 1967; Cleeremans et al. 1989; Hochreiter & Schmidhuber 1997, experiment 1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.data.synthetic.base import SyntheticTask, check_count

SYMBOLS = "BTPSXVE"
#: the Reber grammar as a graph: state -> ((symbol, next state), (symbol, next state)); state 6 emits E and ends
REBER_GRAPH: dict[int, tuple[tuple[str, int], ...]] = {
    0: (("B", 1),),
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", 6)),
    5: (("P", 4), ("V", 6)),
    6: (("E", -1),),
}
#: the shortest embedded Reber string, BTBTXSETE, has 9 symbols; the model sees all but the last two
MIN_INPUT = 7


def reber_string(generator: torch.Generator) -> str:
    """One string of the Reber grammar, each branch taken with probability 1/2."""
    out, state = [], 0
    while state != -1:
        edges = REBER_GRAPH[state]
        k = int(torch.randint(0, len(edges), (1,), generator=generator)) if len(edges) > 1 else 0
        symbol, state = edges[k]
        out.append(symbol)
    return "".join(out)


def embedded_reber_string(generator: torch.Generator) -> str:
    """One string of the embedded Reber grammar: B, T or P, a Reber string, the same T or P, E."""
    branch = "TP"[int(torch.randint(0, 2, (1,), generator=generator))]
    return "B" + branch + reber_string(generator) + branch + "E"


@dataclass(frozen=True)
class EmbeddedReber(SyntheticTask):
    r"""The embedded Reber grammar: remember the second symbol until the penultimate one.

    An embedded Reber string is :math:`B\,a\,R\,a\,E` with :math:`a \in \{T, P\}` and :math:`R` a string of the
    Reber grammar (:data:`REBER_GRAPH`, every branch with probability 1/2). Every symbol but the penultimate
    :math:`a` is predictable from the recent past; :math:`a` needs the symbol seen :math:`|R| + 1` steps earlier
    (Hochreiter & Schmidhuber 1997, experiment 1). Here the model reads the string without its last two symbols
    (one-hot over ``BTPSXVE``), left-padded with all-zero steps to length T (strings longer than that are drawn
    again), and classifies :math:`a` at the last step. Without the memory :math:`a` is a coin flip: chance
    baseline :math:`\ln 2` nats.

    Shape:
        - x: (B, T, 7), one-hot, zero rows before each string; y: (B,) 0 for T, 1 for P (O = 2).

    Example::

        >>> x, y = EmbeddedReber().batch(32, 30, torch.Generator().manual_seed(0))
    """

    name: str = "reber"
    description: str = "embedded Reber grammar: recall the second symbol at the end (Reber 1967)"
    loss: str = "ce_last"
    input_size: int = len(SYMBOLS)
    output_size: int = 2
    min_length: int = MIN_INPUT

    def baseline(self, length: int) -> float:
        return math.log(2.0)

    def baseline_text(self) -> str:
        return "ln 2 = 0.6931 nats (guess T or P)"

    def batch(self, n: int, length: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        n, T = check_count(n), self.check_length(length)
        x = torch.zeros(n, T, len(SYMBOLS))  # (B, T, 7)
        y = torch.zeros(n, dtype=torch.long)
        for b in range(n):
            s = embedded_reber_string(generator)
            while len(s) - 2 > T:
                s = embedded_reber_string(generator)
            seen = s[:-2]
            idx = torch.tensor([SYMBOLS.index(c) for c in seen])
            x[b, T - len(seen) + torch.arange(len(seen)), idx] = 1.0
            y[b] = "TP".index(s[-2])
        return x, y
