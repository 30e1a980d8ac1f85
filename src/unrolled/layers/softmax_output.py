r"""The language model's output layer, named by ``softmax``: the full softmax or the adaptive softmax of Grave et
al. 2017 ("Efficient softmax approximation for GPUs").

Both map hidden states h (N, D) to log-probabilities over V words in the same three ways (``scores``, ``log_prob``,
``target_log_prob``). The adaptive softmax splits the frequency-ordered vocabulary at cutoffs
:math:`0 < c_1 < \dots < c_n < V` into a head shortlist :math:`[0, c_1)` and tail clusters
:math:`[c_i, c_{i+1})`: :math:`p(w \mid h) = p_{head}(w \mid h)` for a shortlist word and
:math:`p_{head}(\text{cluster } i \mid h)\, p_i(w \mid h)` for a word of cluster i, whose softmax first projects h
to :math:`\lfloor D / \mathrm{div}^i \rfloor` units; a target costs the head and its own cluster only.

Example::

    >>> out = SOFTMAXES["adaptive"].build(16, 100, (20, 50), 4.0)
    >>> out.log_prob(torch.randn(3, 16)).exp().sum(-1)  # doctest: +SKIP
    tensor([1.0000, 1.0000, 1.0000], grad_fn=<SumBackward1>)
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SOFTMAXES", "AdaptiveSoftmax", "FullSoftmax", "default_cutoffs"]


class FullSoftmax(nn.Linear):
    r"""The full softmax output layer :math:`p(w \mid h) = \mathrm{softmax}(V h + c)_w` (an ``nn.Linear``: its
    weights are ``weight`` and ``bias`` as before, so older runs load unchanged).

    Shape:
        - h: (N, D); scores, log_prob: (N, V); target_log_prob: targets (N,) -> (N,).
    """

    @classmethod
    def build(cls, width: int, vocab_size: int, cutoffs: tuple[int, ...], div_value: float) -> FullSoftmax:
        """D = ``width`` inputs, V = ``vocab_size`` words (``cutoffs`` and ``div_value`` unused)."""
        return cls(width, vocab_size)

    def reset_output(self) -> None:
        # as pytorch/examples word_language_model
        nn.init.uniform_(self.weight, -0.1, 0.1)
        nn.init.zeros_(self.bias)

    def scores(self, h: Tensor) -> Tensor:
        """Logits (N, V): what ``RNNLanguageModel.forward`` returns for the full softmax."""
        return self(h)  # (N, V)

    def log_prob(self, h: Tensor) -> Tensor:
        return F.log_softmax(self(h), dim=-1)  # (N, V)

    def target_log_prob(self, h: Tensor, targets: Tensor) -> Tensor:
        return -F.cross_entropy(self(h), targets, reduction="none")  # (N,)


class AdaptiveSoftmax(nn.AdaptiveLogSoftmaxWithLoss):
    r"""The adaptive softmax of Grave et al. 2017 (``torch.nn.AdaptiveLogSoftmaxWithLoss`` with a head bias): the
    ``scores`` it gives are the log-probabilities themselves (the full distribution, computed cluster by cluster);
    ``target_log_prob`` evaluates only the head and the one tail cluster each target falls in.

    Shape:
        - h: (N, D); scores, log_prob: (N, V); target_log_prob: targets (N,) -> (N,).
    """

    @classmethod
    def build(cls, width: int, vocab_size: int, cutoffs: tuple[int, ...], div_value: float) -> AdaptiveSoftmax:
        """D = ``width`` inputs, V = ``vocab_size`` words split at ``cutoffs``; tail cluster i has D / div^i units.
        The head has a bias, as the full softmax's c (Grave et al. 2017, sec. 4.3)."""
        return cls(width, vocab_size, list(cutoffs), div_value, head_bias=True)

    def reset_output(self) -> None:
        nn.init.uniform_(self.head.weight, -0.1, 0.1)  # as the full softmax's matrix; tails keep torch's init
        nn.init.zeros_(self.head.bias)

    def scores(self, h: Tensor) -> Tensor:
        return self.log_prob(h)  # (N, V), each row's exp sums to 1

    def target_log_prob(self, h: Tensor, targets: Tensor) -> Tensor:
        return self(h, targets).output  # (N,): head plus the target's own cluster only


#: ``softmax`` name -> output layer (built with ``build(width, vocab_size, cutoffs, div_value)``), resolved once
SOFTMAXES: dict[str, type[FullSoftmax] | type[AdaptiveSoftmax]] = {"full": FullSoftmax, "adaptive": AdaptiveSoftmax}


def default_cutoffs(vocab_size: int) -> tuple[int, ...]:
    """Cutoffs of the adaptive softmax when none are given: ``(V // 5, V // 2)`` (a head of the most frequent fifth
    of the words, then two tail clusters; e.g. (2000, 5000) for V = 10000), kept distinct and in (0, V)."""
    return tuple(sorted({max(1, vocab_size // 5), max(1, vocab_size // 2)} - {vocab_size}))
