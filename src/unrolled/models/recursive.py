"""The recursive neural network: one composition shared by every node of a binary tree (Socher et al. 2011)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["RecursiveComposition"]


class RecursiveComposition(nn.Module):
    r"""Recursive neural network composition (Socher et al. 2011 "Parsing natural scenes and natural language with
    recursive neural networks"; the RNN of Socher et al. 2013, §4.1):

    .. math::
        p = \tanh\big(W [c_1; c_2] + b\big)

    for a parent of children :math:`c_1, c_2` (left, right); a leaf's vector is its word vector, :math:`h = x`
    (so the word vectors live in the same H-dimensional space, as in the paper). A unary node's missing right
    child is the zero vector. :math:`W` = ``weight`` (H, 2H), :math:`b` = ``bias`` (H).

    Args:
        input_size: I, word-vector features; must equal H.
        hidden_size: H.

    Shape:
        - leaf: x (n, H) -> (h,) with h (n, H). internal: children (h,) with h (n, K, H), K <= 2 -> (h,) (n, H).

    Example::

        >>> comp = RecursiveComposition(8, 8)
        >>> (h,) = comp.leaf(torch.randn(2, 8))
        >>> (p,) = comp.internal((h[None],))  # one parent of the two leaves
    """

    num_parts = 1  # state (h,)

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if input_size != hidden_size:
            raise ValueError(
                f"recursive network: leaves are word vectors, so input_size must equal hidden_size={hidden_size}, "
                f"got {input_size!r}"
            )
        self.input_size = self.hidden_size = hidden_size
        self.weight = nn.Parameter(torch.empty(hidden_size, 2 * hidden_size))  # W
        self.bias = nn.Parameter(torch.empty(hidden_size))  # b
        k = 1.0 / math.sqrt(2 * hidden_size)
        nn.init.uniform_(self.weight, -k, k)
        nn.init.zeros_(self.bias)

    def leaf(self, x: Tensor) -> tuple[Tensor]:
        return (x,)

    def internal(self, children: tuple[Tensor]) -> tuple[Tensor]:
        (h_k,) = children  # (n, K, H)
        n, K, H = h_k.shape
        if K > 2:
            raise ValueError(f"recursive network: a node has {K} children; expected a binary tree (at most 2)")
        if K < 2:
            h_k = torch.nn.functional.pad(h_k, (0, 0, 0, 2 - K))  # (n, 2, H)
        return (torch.tanh(torch.nn.functional.linear(h_k.reshape(n, 2 * H), self.weight, self.bias)),)  # (n, H)
