r"""Embedding dropout: drop whole words, i.e. rows of the embedding matrix (Gal & Ghahramani 2016, sec. 4; Merity
et al. 2018, sec. 4.3).

.. math::
    \tilde E_{w} = \frac{m_w}{1 - p} E_w, \qquad m_w \sim \mathrm{Bernoulli}(1 - p)

one draw per vocabulary entry and forward pass, so every occurrence of a dropped word in the batch is zero.
Identity in evaluation.

Shape:
    - ids: (B, T) integer ids; output: (B, T, E).

Example::

    >>> emb = nn.Embedding(100, 16)
    >>> e = embedding_dropout(emb, torch.randint(0, 100, (4, 10)), p=0.1, training=True)  # (4, 10, 16)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["embedding_dropout"]


def embedding_dropout(embedding: nn.Embedding, ids: Tensor, p: float, training: bool) -> Tensor:
    """Look ``ids`` up in ``embedding`` with whole rows dropped at rate ``p`` (when ``training``)."""
    if not training or p == 0:
        return embedding(ids)  # (B, T, E)
    weight = embedding.weight
    keep = weight.new_full((weight.shape[0], 1), 1.0 - p)
    mask = torch.bernoulli(keep).div_(1.0 - p)  # (V, 1): one draw per word
    return F.embedding(ids, weight * mask, embedding.padding_idx)  # (B, T, E)
