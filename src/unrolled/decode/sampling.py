"""Logit processors and token-selection strategies for autoregressive decoding.

A *logit processor* maps next-token scores of shape (B, V) to new scores of the same shape; masked tokens get
``-inf``. Processors are composed in a fixed order, the one used by most decoding libraries:

1. :class:`Temperature` -- ``l / T``, sharpens (T < 1) or flattens (T > 1) ``softmax(l)``;
2. :class:`TopK` -- keep the k highest scores (Fan et al. 2018, "Hierarchical Neural Story Generation");
3. :class:`TopP` -- nucleus sampling (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"):
   keep the smallest set of most probable tokens whose cumulative probability is at least p.

A *strategy* turns processed scores into one token id per row: :func:`greedy` (argmax) or :func:`sample`
(a draw from ``softmax``). Both are resolved by name through :data:`STRATEGIES`; processors through
:data:`PROCESSORS`. Symbols: B batch, V vocabulary size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

LogitProcessor = Callable[[Tensor], Tensor]
Strategy = Callable[[Tensor, "torch.Generator | None"], Tensor]


def _check_logits(logits: object) -> Tensor:
    if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point:
        got = f"dtype {logits.dtype}" if isinstance(logits, Tensor) else type(logits).__name__
        raise TypeError(f"expected logits to be a floating-point torch.Tensor of shape (B, V), got {got}")
    if logits.dim() < 1 or logits.shape[-1] == 0:
        raise ValueError(f"expected logits of shape (B, V) with V >= 1, got shape {tuple(logits.shape)}")
    return logits


class Temperature:
    r"""Divide scores by a temperature: :math:`l'_v = (l_v - \max_u l_u) / T`.

    Subtracting the row maximum first leaves ``softmax`` unchanged but keeps very small temperatures finite
    (the best token scores 0, the others tend to ``-inf``), so ``T -> 0`` approaches greedy decoding
    without overflow. ``T = 0`` itself is handled by the decoder as :func:`greedy`.

    Args:
        temperature: T > 0.

    Shape:
        - Input: (B, V) scores. Output: (B, V).

    Example::

        >>> Temperature(0.5)(torch.tensor([[0.0, 1.0]]))
        tensor([[-2.,  0.]])
    """

    def __init__(self, temperature: float) -> None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise TypeError(f"expected temperature to be a float, got {type(temperature).__name__}")
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"expected 0 < temperature < inf for Temperature, got {temperature}")
        self.temperature = float(temperature)

    def __call__(self, logits: Tensor) -> Tensor:
        logits = _check_logits(logits)
        shifted = logits - logits.max(dim=-1, keepdim=True).values
        return shifted / self.temperature

    def __repr__(self) -> str:
        return f"Temperature({self.temperature})"


class TopK:
    """Keep the ``k`` highest scores in each row and set the rest to ``-inf`` (Fan et al. 2018).

    Exactly ``min(k, V)`` tokens survive (ties at the boundary are broken by ``torch.topk``).

    Args:
        k: number of tokens kept, k >= 1.

    Shape:
        - Input: (B, V) scores. Output: (B, V).

    Example::

        >>> TopK(2)(torch.tensor([[0.0, 3.0, 1.0]]))
        tensor([[-inf, 3., 1.]])
    """

    def __init__(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"expected top_k to be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"expected top_k >= 1, got {k}")
        self.k = k

    def __call__(self, logits: Tensor) -> Tensor:
        logits = _check_logits(logits)
        k = min(self.k, logits.shape[-1])
        if k == logits.shape[-1]:
            return logits
        idx = logits.topk(k, dim=-1).indices
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, idx, True)
        return logits.masked_fill(~keep, -math.inf)

    def __repr__(self) -> str:
        return f"TopK({self.k})"


class TopP:
    r"""Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most probable tokens whose total
    probability is at least ``p``; the most probable token is always kept.

    With the probabilities sorted in decreasing order, :math:`\pi_1 \ge \pi_2 \ge \dots`, token :math:`i` is
    kept when the mass strictly before it is below p: :math:`\sum_{j<i} \pi_j < p`.

    Args:
        p: 0 < p <= 1; ``p = 1`` keeps every token.

    Shape:
        - Input: (B, V) scores. Output: (B, V).

    Example::

        >>> logits = torch.tensor([[0.5, 0.3, 0.2]]).log()
        >>> TopP(0.7)(logits).isfinite()
        tensor([[ True,  True, False]])
    """

    def __init__(self, p: float) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)):
            raise TypeError(f"expected top_p to be a float, got {type(p).__name__}")
        if not 0 < p <= 1:
            raise ValueError(f"expected 0 < top_p <= 1, got {p}")
        self.p = float(p)

    def __call__(self, logits: Tensor) -> Tensor:
        logits = _check_logits(logits)
        if self.p >= 1.0:
            return logits
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs
        keep_sorted = mass_before < self.p
        keep_sorted[..., 0] = True
        keep = torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)
        return logits.masked_fill(~keep, -math.inf)

    def __repr__(self) -> str:
        return f"TopP({self.p})"


class Suppress:
    """Never select the given token ids: their scores become ``-inf`` (e.g. a language model's ``<pad>``,
    ``<bos>`` and ``<unk>``). Applied by the decoder before every other processor.

    Args:
        ids: token ids to mask, each >= 0; ids >= V are ignored.

    Shape:
        - Input: (B, V) scores. Output: (B, V).

    Example::

        >>> Suppress([0, 2])(torch.tensor([[1.0, 2.0, 3.0]]))
        tensor([[-inf, 2., -inf]])
    """

    def __init__(self, ids: Sequence[int]) -> None:
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise TypeError(f"expected suppress ids to be a list of ints, got {type(ids).__name__}")
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int) or i < 0:
                raise ValueError(f"expected suppress ids to be ints >= 0, got {i!r}")
        self.ids = sorted(set(ids))

    def __call__(self, logits: Tensor) -> Tensor:
        logits = _check_logits(logits)
        ids = [i for i in self.ids if i < logits.shape[-1]]
        if not ids:
            return logits
        out = logits.clone()
        out[..., ids] = -math.inf
        return out

    def __repr__(self) -> str:
        return f"Suppress({self.ids})"


#: Logit processors by name, in the order :func:`build_processors` applies them.
PROCESSORS: dict[str, Callable[..., LogitProcessor]] = {
    "temperature": Temperature,
    "top_k": TopK,
    "top_p": TopP,
}


def build_processors(
    temperature: float | None = None, top_k: int | None = None, top_p: float | None = None
) -> list[LogitProcessor]:
    """The processors for the given settings, in the order temperature, top-k, top-p.

    A setting that changes nothing (``None``, ``temperature == 1``, ``top_p == 1``) adds no processor.
    ``temperature == 0`` is not a processor (it means greedy decoding) and is rejected here.
    """
    settings = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    identity = {"temperature": 1.0, "top_p": 1.0}
    out: list[LogitProcessor] = []
    for name, factory in PROCESSORS.items():
        value = settings[name]
        if value is None or (name in identity and not isinstance(value, bool) and value == identity[name]):
            continue
        out.append(factory(value))
    return out


def apply_processors(logits: Tensor, processors: Sequence[LogitProcessor]) -> Tensor:
    """Apply ``processors`` to ``logits`` (B, V) one after the other."""
    for proc in processors:
        logits = proc(logits)
    return logits


def greedy(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """The highest-scoring token of each row: (B, V) -> (B,) int64. ``generator`` is unused."""
    return _check_logits(logits).argmax(dim=-1)


def sample(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One draw per row from ``softmax(logits)``: (B, V) -> (B,) int64, using ``generator`` for randomness.

    Tokens whose score is ``-inf`` have probability 0 and are never drawn.
    """
    logits = _check_logits(logits)
    probs = logits.float().softmax(dim=-1)
    if not torch.isfinite(probs).all():
        raise ValueError("expected every row of logits to have a finite score, got a row of -inf/nan")
    flat = probs.reshape(-1, probs.shape[-1])
    draws = torch.multinomial(flat, 1, generator=generator).squeeze(-1)
    return draws.reshape(probs.shape[:-1])


#: Token-selection strategies by name.
STRATEGIES: dict[str, Strategy] = {"greedy": greedy, "sample": sample}


def get_strategy(name: str) -> Strategy:
    """Resolve a strategy name (``"greedy"`` or ``"sample"``)."""
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"expected strategy to be one of {sorted(STRATEGIES)}, got {name!r}") from None
