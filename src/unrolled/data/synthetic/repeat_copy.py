"""The repeat-copy task (Graves, Wayne & Danihelka 2014, §4.2), in symbols rather than binary vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from unrolled.data.synthetic.base import SyntheticTask, check_count

#: input symbols: 0 blank, 1..8 the data alphabet, 9 the delimiter ("now repeat"); target class 9 is the end marker
BLANK, ALPHABET, DELIMITER, END = 0, 8, 9, 9


@dataclass(frozen=True)
class RepeatCopy(SyntheticTask):
    r"""Repeat-copy: read T symbols and a repeat count K, then write the T symbols K times and an end marker
    (Graves et al. 2014, §4.2; symbols from {1, ..., 8} in place of the paper's random 8-bit vectors, so that
    the loss is the lab's per-step cross-entropy).

    With R = ``max_repeats`` (default 3) every sequence has :math:`(R + 1) T + 2` steps: steps 0..T-1 hold the
    T symbols, step T the delimiter 9 with the repeat channel set to K / R (K drawn uniformly from 1..R, per
    sequence), all other steps blank (0) with the repeat channel 0. The target is blank (0) for steps 0..T, the
    symbols repeated K times for steps T+1..T+KT, the end marker (class 9) at step T+KT+1, blank after it. A
    model that knows the layout and K but not the symbols (blanks and the end marker right, a uniform guess
    over the 8 symbols where they are repeated) scores the chance baseline
    :math:`\mathbb{E}[K]\, T \ln 8 / ((R + 1) T + 2)` nats per step, :math:`\mathbb{E}[K] = (R + 1) / 2`.

    Shape:
        - x: (B, (R+1)T + 2, 11), one-hot symbols 0..9 and the repeat channel; y: (B, (R+1)T + 2), classes
          0..9 (O = 10).

    Example::

        >>> x, y = RepeatCopy().batch(32, 5, torch.Generator().manual_seed(0))   # x (32, 22, 11), y (32, 22)
    """

    name: str = "repeat_copy"
    description: str = "repeat-copy: write T symbols back K times, then an end marker (Graves et al. 2014)"
    loss: str = "ce_steps"
    input_size: int = DELIMITER + 2
    output_size: int = END + 1
    min_length: int = 1
    max_repeats: int = 3

    def baseline(self, length: int) -> float:
        T, R = self.check_length(length), self.max_repeats
        return (R + 1) / 2 * T * math.log(ALPHABET) / self.sequence_length(T)

    def baseline_text(self) -> str:
        R = self.max_repeats
        return f"E[K] T ln 8 / ({R + 1}T+2) nats per step, K~U{{1..{R}}}"

    def sequence_length(self, length: int) -> int:
        return (self.max_repeats + 1) * length + 2

    def batch(self, n: int, length: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        n, T = check_count(n), self.check_length(length)
        L = self.sequence_length(T)
        symbols = torch.randint(1, ALPHABET + 1, (n, T), generator=generator)  # (B, T)
        repeats = torch.randint(1, self.max_repeats + 1, (n,), generator=generator)  # K: (B,)
        seq = torch.full((n, L), BLANK, dtype=torch.long)  # (B, L)
        seq[:, :T] = symbols
        seq[:, T] = DELIMITER
        x = torch.cat([F.one_hot(seq, DELIMITER + 1).float(), torch.zeros(n, L, 1)], dim=-1)  # (B, L, 11)
        x[:, T, -1] = repeats.float() / self.max_repeats
        steps = torch.arange(L)  # (L,)
        offset = steps - (T + 1)  # position inside the repeated block
        k = repeats.unsqueeze(1)  # (B, 1)
        inside = (offset >= 0) & (offset < k * T)  # (B, L)
        tiled = symbols.gather(1, offset.clamp(min=0).remainder(T).expand(n, L))  # symbols[offset mod T]: (B, L)
        y = torch.where(inside, tiled, torch.full_like(tiled, BLANK))
        y[offset.unsqueeze(0).expand(n, L) == k * T] = END  # the end marker right after the K-th copy
        return x, y  # (B, (R+1)T + 2, 11), (B, (R+1)T + 2)
