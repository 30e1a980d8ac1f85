"""Node classification over trees (sentiment at every node, Socher et al. 2013; Tai et al. 2015 §4.1).

:func:`encode_levels` runs a composition bottom-up one tree *level* at a time (all nodes of a level in one matrix
product, see :mod:`unrolled.data.tree_batch`); :func:`encode_node_by_node` is the plain recursion, one node per
call, kept as the reference the batched version is tested against. :class:`TreeClassifier` adds word vectors and
a softmax layer on every node's h; :data:`TREE_LOSSES` holds the root-only and all-node cross-entropies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.data.tree_batch import TreeBatch
from unrolled.data.trees import Tree
from unrolled.models.recursive import RecursiveComposition
from unrolled.models.tree_lstm import BinaryTreeLSTM, ChildSumTreeLSTM

__all__ = [
    "COMPOSITIONS",
    "TREE_LOSSES",
    "TreeClassifier",
    "TreeClassifierConfig",
    "all_nodes_loss",
    "encode_levels",
    "encode_node_by_node",
    "root_loss",
]

#: composition by name; the value's second entry is the most children a node may have (None: any)
COMPOSITIONS: dict[str, tuple[type[nn.Module], int | None]] = {
    "tree_lstm": (BinaryTreeLSTM, 2),
    "child_sum": (ChildSumTreeLSTM, None),
    "recursive": (RecursiveComposition, 2),
}


def encode_levels(composition: nn.Module, batch: TreeBatch, x_leaves: Tensor) -> tuple[Tensor, ...]:
    """Every node's state, level by level: one ``composition.internal`` call per level.

    Args:
        composition: a module with ``leaf(x)``, ``internal(children)`` and ``num_parts``.
        batch: the trees (:func:`~unrolled.data.tree_batch.batch_trees`).
        x_leaves: (n_0, I) the leaves' word vectors.

    Returns:
        the state parts (e.g. h, c), each (N, H), in the batch's node order.
    """
    parts = composition.leaf(x_leaves)  # each (n_0, H)
    zero = [p.new_zeros(1, p.shape[-1]) for p in parts]
    tables = [torch.cat([z, p]) for z, p in zip(zero, parts)]  # row 0 = no child, row 1 + n = node n: (1 + n, H)
    for level in batch.levels[1:]:
        kids = tuple(t[level.children] for t in tables)  # each (n_l, K_l, H)
        new = composition.internal(kids)  # each (n_l, H)
        tables = [torch.cat([t, p]) for t, p in zip(tables, new)]
    return tuple(t[1:] for t in tables)  # (N, H)


def encode_node_by_node(
    composition: nn.Module, tree: Tree, word_vector: Callable[[str], Tensor]
) -> list[tuple[Tensor, ...]]:
    """Reference: the state of every node of ``tree`` in post-order, computed one node per call by recursion.

    ``word_vector(word)`` gives a leaf's (I,) vector. Each state part is (H,).
    """
    out: list[tuple[Tensor, ...]] = []

    def visit(node: Tree) -> tuple[Tensor, ...]:
        if node.is_leaf:
            state = tuple(p[0] for p in composition.leaf(word_vector(node.word)[None]))
        else:
            kid_states = [visit(c) for c in node.children]
            stacked = tuple(torch.stack(ps)[None] for ps in zip(*kid_states))  # each (1, K, H)
            state = tuple(p[0] for p in composition.internal(stacked))
        out.append(state)
        return state

    visit(tree)
    return out


def root_loss(logits: Tensor, batch: TreeBatch) -> tuple[Tensor, int]:
    """Mean cross-entropy of the roots' labels, and the number of roots (Tai et al. report root accuracy)."""
    return F.cross_entropy(logits[batch.roots], batch.labels[batch.roots]), batch.num_trees


def all_nodes_loss(logits: Tensor, batch: TreeBatch) -> tuple[Tensor, int]:
    """Mean cross-entropy over every node's label (the all-node objective of Socher et al. 2013 and Tai et al.)."""
    return F.cross_entropy(logits, batch.labels), batch.num_nodes


TREE_LOSSES: dict[str, Callable[[Tensor, TreeBatch], tuple[Tensor, int]]] = {
    "root": root_loss,
    "all": all_nodes_loss,
}


@dataclass
class TreeClassifierConfig:
    """Options of :class:`TreeClassifier`, checked when built."""

    vocab_size: int
    num_classes: int = 5
    model: str = "tree_lstm"
    embedding_dim: int = 0  # 0: equal to hidden_size (the recursive network requires it)
    hidden_size: int = 64
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for key in ("vocab_size", "num_classes", "hidden_size"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{key}: expected a positive integer, got {v!r}")
        if isinstance(self.embedding_dim, bool) or not isinstance(self.embedding_dim, int) or self.embedding_dim < 0:
            raise ValueError(f"embedding_dim: expected an integer >= 0 (0: hidden_size), got {self.embedding_dim!r}")
        if self.model not in COMPOSITIONS:
            raise ValueError(f"model: expected one of {sorted(COMPOSITIONS)}, got {self.model!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: expected a number in [0, 1), got {self.dropout!r}")


class TreeClassifier(nn.Module):
    r"""Word vectors, a tree composition applied bottom-up by level, and a softmax classifier on every node:

    .. math::
        \hat p_\theta(y \mid \{x\}_j) = \mathrm{softmax}\big(W^{(s)} \mathrm{dropout}(h_j) + b^{(s)}\big)

    (Tai et al. 2015 §4.1). The composition is ``config.model``: ``"tree_lstm"`` (binary N-ary Tree-LSTM),
    ``"child_sum"`` or ``"recursive"`` (Socher et al. 2011), resolved once through :data:`COMPOSITIONS`.

    Args:
        config: a :class:`TreeClassifierConfig`.

    Shape:
        V vocabulary, E embedding features, C classes, N nodes in the batch.

        - input: a :class:`~unrolled.data.tree_batch.TreeBatch` (``words`` ids < V).
        - output: logits (N, C) in the batch's node order (``logits[batch.roots]``: the roots').

    Example::

        >>> from unrolled.data.trees import parse_tree
        >>> from unrolled.data.tree_batch import batch_trees
        >>> model = TreeClassifier(TreeClassifierConfig(vocab_size=3, hidden_size=8))
        >>> b = batch_trees([parse_tree("(3 (2 a) (4 b))")], {"a": 1, "b": 2}.__getitem__, int)
        >>> model(b).shape
        torch.Size([3, 5])
    """

    def __init__(self, config: TreeClassifierConfig):
        super().__init__()
        self.config = config
        cls, self.max_children = COMPOSITIONS[config.model]
        E = config.embedding_dim or config.hidden_size
        self.embedding = nn.Embedding(config.vocab_size, E)  # (V, E)
        self.composition = cls(E, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_classes)  # W^(s), b^(s)

    def encode(self, batch: TreeBatch) -> Tensor:
        """Every node's h (N, H)."""
        if batch.words.numel() and int(batch.words.max()) >= self.config.vocab_size:
            raise ValueError(f"word id {int(batch.words.max())} out of range; expected < {self.config.vocab_size}")
        x = self.embedding(batch.words)  # (n_0, E)
        return encode_levels(self.composition, batch, x)[0]  # (N, H)

    def forward(self, batch: TreeBatch) -> Tensor:
        return self.classifier(self.dropout(self.encode(batch)))  # (N, C)
