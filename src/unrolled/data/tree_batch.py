"""A batch of trees as level-ordered index tensors, so that all nodes of one level are composed in one product.

Nodes are grouped by *height* (leaves 0, a parent one more than its highest child): every child has a smaller
height than its parent, so processing levels 0, 1, 2, ... computes each node after all its children, and every
node of a level is independent of the others. Nodes are numbered level by level (level 0 first); a level's
nodes are one contiguous range. Child indices point into a table whose row 0 is the zero state (a missing
child, Tai et al. 2015 §3.2) and whose row ``1 + n`` is node ``n``.

Shape symbols: N nodes in the batch, n_l nodes on level l, K_l the most children of a node on level l,
B trees, n_0 leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.data.trees import Tree

__all__ = ["Level", "TreeBatch", "batch_trees"]


@dataclass(frozen=True)
class Level:
    """One level: nodes ``start .. stop-1`` and their children (n_l, K_l), table rows (0 = no child)."""

    start: int
    stop: int
    children: Tensor  # (n_l, K_l) long


@dataclass(frozen=True)
class TreeBatch:
    """Trees flattened level by level (see the module docstring).

    Attributes:
        words: (n_0,) word ids of the leaves (level 0, in node order).
        labels: (N,) label ids of every node, or None.
        levels: the levels in computation order; ``levels[0]`` are the leaves (no children).
        roots: (B,) node index of each tree's root.
        tree_of: (N,) which tree each node belongs to.
        post_order: (N,) node index of each node in the trees' concatenated post-order
            (:meth:`Tree.nodes` of tree 0, then tree 1, ...): ``x[post_order]`` is a per-node result in the order
            of a node-by-node recursion.
    """

    words: Tensor
    labels: Tensor | None
    levels: tuple[Level, ...]
    roots: Tensor
    tree_of: Tensor
    post_order: Tensor

    @property
    def num_nodes(self) -> int:
        return self.levels[-1].stop

    @property
    def num_trees(self) -> int:
        return int(self.roots.numel())

    def to(self, device: torch.device | str) -> TreeBatch:
        lv = tuple(Level(x.start, x.stop, x.children.to(device)) for x in self.levels)
        return TreeBatch(
            self.words.to(device),
            None if self.labels is None else self.labels.to(device),
            lv,
            self.roots.to(device),
            self.tree_of.to(device),
            self.post_order.to(device),
        )


def batch_trees(
    trees: Sequence[Tree],
    word_id: Callable[[str], int],
    label_id: Callable[[str], int] | None = None,
    max_children: int | None = None,
) -> TreeBatch:
    """Flatten ``trees`` into a :class:`TreeBatch`.

    Args:
        trees: at least one tree.
        word_id: maps a leaf's word to its id.
        label_id: maps a node's label to its id (None: no labels).
        max_children: if given, a node with more children raises a one-line ValueError (binary models: 2).

    Example::

        >>> from unrolled.data.trees import parse_tree
        >>> b = batch_trees([parse_tree("(3 (2 a) (4 b))")], {"a": 0, "b": 1}.__getitem__, int)
        >>> b.words.tolist(), [(lv.start, lv.stop) for lv in b.levels], b.levels[1].children.tolist()
        ([0, 1], [(0, 2), (2, 3)], [[1, 2]])
    """
    if not trees:
        raise ValueError("expected at least one tree in a batch, got none")
    # post-order walk of every tree: per node its height, children (post-order ids), word, label
    heights: list[int] = []
    kids: list[list[int]] = []
    words: list[str | None] = []
    labels: list[str] = []
    tree_of: list[int] = []
    roots: list[int] = []
    for b, tree in enumerate(trees):
        done: list[int] = []  # ids of finished subtrees not yet attached to a parent (post-order)
        for node in tree.nodes():
            n = len(node.children)
            my_kids = done[len(done) - n :] if n else []
            if n:
                del done[len(done) - n :]
            if max_children is not None and n > max_children:
                raise ValueError(
                    f"tree {b}: node ({node.label} ...) has {n} children; expected at most {max_children} "
                    "(binarise the trees)"
                )
            done.append(len(heights))
            heights.append(1 + max(heights[k] for k in my_kids) if my_kids else 0)
            kids.append(my_kids)
            words.append(node.word)
            labels.append(node.label)
            tree_of.append(b)
        roots.append(len(heights) - 1)
    # renumber by (height, post-order index): stable sort
    order = sorted(range(len(heights)), key=lambda i: heights[i])  # new position -> old id
    new_of = [0] * len(order)
    for new, old in enumerate(order):
        new_of[old] = new
    levels: list[Level] = []
    start = 0
    n_levels = max(heights) + 1
    for h in range(n_levels):
        stop = start
        while stop < len(order) and heights[order[stop]] == h:
            stop += 1
        k = max((len(kids[order[i]]) for i in range(start, stop)), default=0)
        child = torch.zeros(stop - start, k, dtype=torch.long)  # (n_l, K_l), 0 = no child
        for row, i in enumerate(range(start, stop)):
            for col, c in enumerate(kids[order[i]]):
                child[row, col] = 1 + new_of[c]
        levels.append(Level(start, stop, child))
        start = stop
    leaf_words = [words[order[i]] for i in range(levels[0].start, levels[0].stop)]
    return TreeBatch(
        words=torch.tensor([word_id(w) for w in leaf_words], dtype=torch.long),  # (n_0,)
        labels=None if label_id is None else torch.tensor([label_id(labels[o]) for o in order], dtype=torch.long),
        levels=tuple(levels),
        roots=torch.tensor([new_of[r] for r in roots], dtype=torch.long),  # (B,)
        tree_of=torch.tensor([tree_of[o] for o in order], dtype=torch.long),  # (N,)
        post_order=torch.tensor(new_of, dtype=torch.long),  # (N,)
    )
