"""Level-ordered tree batches: levels by height, children indices, roots, post-order map, errors."""

import pytest
import torch

from unrolled.data.tree_batch import batch_trees
from unrolled.data.trees import parse_tree

VOCAB = {"a": 0, "b": 1, "c": 2, "d": 3}


def test_levels_children_roots_by_hand():
    trees = [parse_tree("(3 (2 a) (4 (1 b) (0 c)))"), parse_tree("(1 (2 d) (3 a))")]
    b = batch_trees(trees, VOCAB.__getitem__, int)
    # post-order ids: tree0 a0 b1 c2 (4)3 root4; tree1 d5 a6 root7; heights 0,0,0,1,2,0,0,1
    # level order: a0 b1 c2 d5 a6 | n3 n7 | n4
    assert b.words.tolist() == [0, 1, 2, 3, 0]
    assert [(lv.start, lv.stop) for lv in b.levels] == [(0, 5), (5, 7), (7, 8)]
    assert b.levels[1].children.tolist() == [[2, 3], [4, 5]]  # table rows = 1 + node
    assert b.levels[2].children.tolist() == [[1, 6]]
    assert b.roots.tolist() == [7, 6]
    assert b.labels.tolist() == [2, 1, 0, 2, 3, 4, 1, 3]
    assert b.tree_of.tolist() == [0, 0, 0, 1, 1, 0, 1, 0]
    post = [lab for t in trees for lab in t.labels()]
    assert b.labels[b.post_order].tolist() == [int(x) for x in post]
    assert b.num_nodes == 8 and b.num_trees == 2


def test_every_child_is_on_an_earlier_level():
    t = parse_tree("(1 (2 (3 a) (4 (1 b) (0 c))) (3 (2 d) (1 (2 a) (0 b))))")
    b = batch_trees([t, parse_tree("(2 a)")], VOCAB.__getitem__)
    for lv in b.levels[1:]:
        assert torch.all((lv.children - 1) < lv.start)
        assert torch.all(lv.children > 0)
    assert b.labels is None


def test_errors():
    with pytest.raises(ValueError, match="expected at least one tree"):
        batch_trees([], VOCAB.__getitem__)
    with pytest.raises(ValueError, match=r"tree 0: node \(1 \.\.\.\) has 3 children; expected at most 2"):
        batch_trees([parse_tree("(1 (2 a) (2 b) (2 c))")], VOCAB.__getitem__, max_children=2)
