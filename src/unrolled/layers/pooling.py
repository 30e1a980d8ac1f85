r"""Pooling over time: one vector per sequence from a recurrent layer's outputs, respecting each sequence's length.

Given outputs :math:`h_1 .. h_T` of which the first :math:`\ell` are valid (the rest padding):

.. math::
    \text{last} &= h_\ell \quad (\text{bidirectional: } [\overrightarrow{h}_\ell ; \overleftarrow{h}_1]) \\
    \text{mean} &= \tfrac{1}{\ell} \textstyle\sum_{t \le \ell} h_t, \qquad
    \text{max} = \max_{t \le \ell} h_t \ (\text{per feature}) \\
    \text{attention} &= \textstyle\sum_{t \le \ell} \alpha_t h_t, \quad
    \alpha = \mathrm{softmax}_{t \le \ell}(u_t), \quad u_t = v^\top \tanh(W h_t + b)

The attention form is the additive score of Bahdanau et al. (2015) with a learned query vector :math:`v`, as in
the word-level attention of Yang et al. (2016), "Hierarchical Attention Networks for Document Classification".
Padded steps never contribute (masked out before the mean, max and softmax), so padding changes nothing.

The poolings are resolved by name once, through :data:`POOLINGS` / :func:`make_pooling`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["POOLINGS", "AttentionPooling", "LastPooling", "MaxPooling", "MeanPooling", "Pooling", "make_pooling"]


def _valid_mask(h: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
    """Mask (B, T) True on valid steps, and the lengths (B,) on h's device (all T when ``lengths`` is None)."""
    if h.dim() != 3:
        raise ValueError(f"pooling expected outputs of shape (B, T, F), got {tuple(h.shape)}")
    B, T = h.shape[0], h.shape[1]
    if T == 0:
        raise ValueError("pooling got an empty sequence (T = 0); expected at least one time step")
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.long, device=h.device)
    else:
        if not isinstance(lengths, Tensor) or lengths.shape != (B,):
            got = tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
            raise ValueError(f"pooling expected lengths of shape (B,) = ({B},), got {got}")
        lengths = lengths.to(device=h.device, dtype=torch.long)
        if bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise ValueError(f"pooling expected lengths in 1..T = 1..{T}, got {lengths.tolist()}")
    mask = torch.arange(T, device=h.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    return mask, lengths


class Pooling(nn.Module):
    r"""Base of the poolings: ``forward(h, lengths) -> (B, F)``.

    Args:
        features: F, the width of the outputs to pool (D·O for a concatenated bidirectional layer).
        directions: D, 1 or 2; used by ``"last"`` to take the reverse direction's first step.
        attention_size: A, the width of the attention's hidden layer (``"attention"`` only; default F).

    Shape:
        - h: (B, T, F); lengths: (B,) in 1..T (None: every row is T long); output: (B, F).
    """

    def __init__(self, features: int, directions: int = 1, attention_size: int | None = None):
        super().__init__()
        if isinstance(features, bool) or not isinstance(features, int) or features < 1:
            raise ValueError(f"pooling features must be a positive integer, got {features!r}")
        if directions not in (1, 2):
            raise ValueError(f"pooling directions must be 1 or 2, got {directions!r}")
        if directions == 2 and features % 2:
            raise ValueError(f"bidirectional pooling needs an even feature count (two halves), got {features}")
        self.features, self.directions = features, directions

    def forward(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class LastPooling(Pooling):
    r"""The state at each sequence's last valid step; bidirectional: the forward half at step :math:`\ell` and the
    reverse half at step 1 (where the reverse direction has read the whole sequence).

    Example::

        >>> pool = LastPooling(4)
        >>> pool(torch.arange(24.).view(2, 3, 4), torch.tensor([3, 1]))[:, 0]
        tensor([ 8., 12.])
    """

    def forward(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:
        _, lengths = _valid_mask(h, lengths)
        rows = torch.arange(h.shape[0], device=h.device)
        last = h[rows, lengths - 1]  # (B, F)
        if self.directions == 1:
            return last
        half = self.features // 2
        return torch.cat([last[:, :half], h[:, 0, half:]], dim=-1)  # (B, F)


class MeanPooling(Pooling):
    r"""The mean of the valid steps.

    Example::

        >>> MeanPooling(1)(torch.tensor([[[1.], [3.], [100.]]]), torch.tensor([2]))
        tensor([[2.]])
    """

    def forward(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:
        mask, lengths = _valid_mask(h, lengths)
        total = h.masked_fill(~mask.unsqueeze(-1), 0.0).sum(1)  # (B, T, F) -> (B, F)
        return total / lengths.unsqueeze(1).to(h.dtype)


class MaxPooling(Pooling):
    r"""The per-feature maximum over the valid steps (padding set to :math:`-\infty` first).

    Example::

        >>> MaxPooling(1)(torch.tensor([[[-3.], [-1.], [0.]]]), torch.tensor([2]))
        tensor([[-1.]])
    """

    def forward(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:
        mask, _ = _valid_mask(h, lengths)
        return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)  # (B, T, F) -> (B, F)


class AttentionPooling(Pooling):
    r"""Learned additive attention over time (Bahdanau et al. 2015; Yang et al. 2016):
    :math:`u_t = v^\top \tanh(W h_t + b)`, :math:`\alpha = \mathrm{softmax}(u)` over the valid steps,
    output :math:`\sum_t \alpha_t h_t`.

    Parameters: ``proj`` (:math:`W`: (A, F), :math:`b`: (A,)) and ``query`` (:math:`v`: (A,)).

    Example::

        >>> pool = AttentionPooling(8, attention_size=4)
        >>> pool(torch.randn(2, 5, 8), torch.tensor([5, 2])).shape
        torch.Size([2, 8])
    """

    def __init__(self, features: int, directions: int = 1, attention_size: int | None = None):
        super().__init__(features, directions)
        A = features if attention_size is None else attention_size
        if isinstance(A, bool) or not isinstance(A, int) or A < 1:
            raise ValueError(f"attention_size must be a positive integer, got {attention_size!r}")
        self.proj = nn.Linear(features, A)
        self.query = nn.Parameter(torch.empty(A))
        nn.init.uniform_(self.query, -(A**-0.5), A**-0.5)

    def weights(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:
        r"""The attention weights :math:`\alpha` (B, T), zero on padding, each row summing to 1."""
        mask, _ = _valid_mask(h, lengths)
        u = torch.tanh(self.proj(h.masked_fill(~mask.unsqueeze(-1), 0.0))) @ self.query  # (B, T, A) -> (B, T)
        return torch.softmax(u.masked_fill(~mask, float("-inf")), dim=1)  # (B, T)

    def forward(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:
        mask, _ = _valid_mask(h, lengths)
        alpha = self.weights(h, lengths)  # (B, T)
        return (alpha.unsqueeze(-1) * h.masked_fill(~mask.unsqueeze(-1), 0.0)).sum(1)  # (B, T, F) -> (B, F)


POOLINGS: dict[str, type[Pooling]] = {
    "last": LastPooling,
    "mean": MeanPooling,
    "max": MaxPooling,
    "attention": AttentionPooling,
}


def make_pooling(name: str, features: int, directions: int = 1, attention_size: int | None = None) -> Pooling:
    """Build the pooling registered as ``name`` in :data:`POOLINGS` (``last``, ``mean``, ``max``, ``attention``).

    Example::

        >>> make_pooling("mean", 16)
        MeanPooling()
    """
    if name not in POOLINGS:
        raise ValueError(f"unknown pooling {name!r}; expected one of {sorted(POOLINGS)}")
    if name == "attention":
        return AttentionPooling(features, directions, attention_size)
    if attention_size is not None:
        raise ValueError(f"attention_size applies to the 'attention' pooling only, not {name!r}")
    return POOLINGS[name](features, directions)
