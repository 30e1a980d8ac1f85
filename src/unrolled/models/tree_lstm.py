"""Tree-LSTM compositions (Tai, Socher & Manning 2015): Child-Sum and N-ary (binary by default).

A *composition* computes a node's state from its children's states; :class:`~unrolled.models.tree_classifier.
TreeClassifier` applies it to all nodes of one tree level at once. Constituency trees (Tai et al. §3.2, §5.1):
leaves read the word vector :math:`x_j`, internal nodes read only their children (no input term), and a missing
child (a unary node of a binary composition) is the zero state.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["BinaryTreeLSTM", "ChildSumTreeLSTM"]


class _TreeLSTMBase(nn.Module):
    """Shared leaf step: with no children, both variants reduce to :math:`c = i \\odot u`, :math:`h = o \\odot
    \\tanh(c)` with :math:`i, o, u` from :math:`W^{(\\cdot)} x_j + b^{(\\cdot)}`."""

    num_parts = 2  # state (h, c)

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_iou = nn.Parameter(torch.empty(3 * hidden_size, input_size))  # W^(i), W^(o), W^(u)
        self.bias_iou = nn.Parameter(torch.empty(3 * hidden_size))  # b^(i), b^(o), b^(u)

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def leaf(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """States of leaves from their word vectors x (n, I): h, c each (n, H)."""
        i, o, u = torch.nn.functional.linear(x, self.weight_iou, self.bias_iou).chunk(3, dim=-1)  # each (n, H)
        c = torch.sigmoid(i) * torch.tanh(u)
        return torch.sigmoid(o) * torch.tanh(c), c


class ChildSumTreeLSTM(_TreeLSTMBase):
    r"""Child-Sum Tree-LSTM (Tai et al. 2015, eqs. 2-8), for any number of unordered children :math:`C(j)`:

    .. math::
        \begin{array}{ll}
        \tilde h_j = \sum_{k \in C(j)} h_k \\
        i_j = \sigma(W^{(i)} x_j + U^{(i)} \tilde h_j + b^{(i)}), \quad
        o_j = \sigma(W^{(o)} x_j + U^{(o)} \tilde h_j + b^{(o)}), \quad
        u_j = \tanh(W^{(u)} x_j + U^{(u)} \tilde h_j + b^{(u)}) \\
        f_{jk} = \sigma(W^{(f)} x_j + U^{(f)} h_k + b^{(f)}) \\
        c_j = i_j \odot u_j + \sum_{k \in C(j)} f_{jk} \odot c_k, \qquad h_j = o_j \odot \tanh(c_j)
        \end{array}

    Internal nodes of a constituency tree have no :math:`x_j` (the :math:`W x_j` terms vanish, biases stay).
    ``weight_iou`` (3H, I) and ``bias_iou`` (3H) stack :math:`W^{(i,o,u)}, b^{(i,o,u)}`; ``weight_hiou``
    (3H, H) stacks :math:`U^{(i,o,u)}`; ``weight_hf`` (H, H) is :math:`U^{(f)}`, ``bias_f`` (H) :math:`b^{(f)}`
    (the :math:`W^{(f)} x_j` term appears only at leaves, which have no children to forget, so it is omitted).

    Args:
        input_size: I, word-vector features.
        hidden_size: H, units of h and c.

    Shape:
        K children per node (padded with the zero state, which adds nothing to any sum).

        - leaf: x (n, I) -> h, c (n, H). internal: children h, c (n, K, H) -> h, c (n, H).

    Example::

        >>> comp = ChildSumTreeLSTM(8, 16)
        >>> h, c = comp.leaf(torch.randn(3, 8))
        >>> h2, c2 = comp.internal((h[None], c[None]))  # one node with 3 children
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.weight_hiou = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))  # U^(i), U^(o), U^(u)
        self.weight_hf = nn.Parameter(torch.empty(hidden_size, hidden_size))  # U^(f)
        self.bias_f = nn.Parameter(torch.empty(hidden_size))  # b^(f)
        self.reset_parameters()

    def internal(self, children: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h_k, c_k = children  # each (n, K, H)
        h_sum = h_k.sum(dim=1)  # \tilde h_j: (n, H)
        i, o, u = torch.nn.functional.linear(h_sum, self.weight_hiou, self.bias_iou).chunk(3, dim=-1)  # (n, H)
        f = torch.sigmoid(torch.nn.functional.linear(h_k, self.weight_hf, self.bias_f))  # f_jk: (n, K, H)
        c = torch.sigmoid(i) * torch.tanh(u) + (f * c_k).sum(dim=1)  # (n, H)
        return torch.sigmoid(o) * torch.tanh(c), c


class BinaryTreeLSTM(_TreeLSTMBase):
    r"""N-ary Tree-LSTM (Tai et al. 2015, eqs. 9-14) for ordered children :math:`h_{j1}..h_{jN}` (N = 2: binary):

    .. math::
        \begin{array}{ll}
        i_j = \sigma\big(W^{(i)} x_j + \sum_{l=1}^N U^{(i)}_l h_{jl} + b^{(i)}\big) \quad
        (o_j, u_j \text{ likewise, } u_j \text{ with } \tanh) \\
        f_{jk} = \sigma\big(W^{(f)} x_j + \sum_{l=1}^N U^{(f)}_{kl} h_{jl} + b^{(f)}\big) \\
        c_j = i_j \odot u_j + \sum_{l=1}^N f_{jl} \odot c_{jl}, \qquad h_j = o_j \odot \tanh(c_j)
        \end{array}

    Each child position has its own matrices, so the left and right child are told apart (what makes it suit
    binarised constituency trees). ``weight_hiou`` (3H, N·H) stacks :math:`[U^{(i,o,u)}_1 \dots U^{(i,o,u)}_N]`;
    ``weight_hf`` (N·H, N·H) holds :math:`U^{(f)}_{kl}` (row block k, column block l); ``bias_f`` (H) is shared
    by the N forget gates (as in the paper). Nodes with fewer than N children get zero states for the missing
    positions; more than N is an error.

    Args:
        input_size: I, word-vector features.
        hidden_size: H, units of h and c.
        arity: N, children per node (default 2).

    Shape:
        - leaf: x (n, I) -> h, c (n, H). internal: children h, c (n, K, H), K <= N -> h, c (n, H).

    Example::

        >>> comp = BinaryTreeLSTM(8, 16)
        >>> h, c = comp.leaf(torch.randn(2, 8))
        >>> h2, c2 = comp.internal((h[None], c[None]))  # one node, two children
    """

    def __init__(self, input_size: int, hidden_size: int, arity: int = 2):
        super().__init__(input_size, hidden_size)
        if isinstance(arity, bool) or not isinstance(arity, int) or arity < 1:
            raise ValueError(f"arity must be a positive integer, got {arity!r}")
        self.arity = arity
        self.weight_hiou = nn.Parameter(torch.empty(3 * hidden_size, arity * hidden_size))
        self.weight_hf = nn.Parameter(torch.empty(arity * hidden_size, arity * hidden_size))
        self.bias_f = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def internal(self, children: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h_k, c_k = children  # each (n, K, H)
        n, K, H = h_k.shape
        if K > self.arity:
            raise ValueError(f"{type(self).__name__}: a node has {K} children; expected at most {self.arity}")
        if K < self.arity:
            pad = (0, 0, 0, self.arity - K)
            h_k, c_k = torch.nn.functional.pad(h_k, pad), torch.nn.functional.pad(c_k, pad)  # (n, N, H)
        hcat = h_k.reshape(n, self.arity * H)  # [h_j1; ..; h_jN]: (n, N·H)
        i, o, u = torch.nn.functional.linear(hcat, self.weight_hiou, self.bias_iou).chunk(3, dim=-1)  # (n, H)
        f = torch.sigmoid((hcat @ self.weight_hf.t()).view(n, self.arity, H) + self.bias_f)  # f_jl: (n, N, H)
        c = torch.sigmoid(i) * torch.tanh(u) + (f * c_k).sum(dim=1)  # (n, H)
        return torch.sigmoid(o) * torch.tanh(c), c
