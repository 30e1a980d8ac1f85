"""Batching by tree level gives the same outputs and gradients as node-by-node recursion; losses; config."""

import pytest
import torch

from unrolled.data.tree_batch import batch_trees
from unrolled.data.trees import parse_tree
from unrolled.models.tree_classifier import (
    TREE_LOSSES,
    TreeClassifier,
    TreeClassifierConfig,
    encode_levels,
    encode_node_by_node,
)

VOCAB = {w: i for i, w in enumerate("a b c d e not".split())}
TREES = [
    "(3 (2 a) (4 (1 b) (0 c)))",
    "(1 (2 d) (3 (2 (2 e) (1 not)) (3 a)))",
    "(2 b)",
    "(0 (1 (2 a) (3 b)) (4 (2 c) (1 d)))",
]
NARY = ["(1 (2 a) (3 b) (4 c))", "(2 (1 d))", "(3 (1 (0 e) (1 a) (2 b) (3 c)) (2 d))"]


@pytest.mark.parametrize("model, texts", [("tree_lstm", TREES), ("recursive", TREES), ("child_sum", TREES + NARY)])
def test_levels_equal_node_by_node_outputs_and_gradients(model, texts):
    torch.manual_seed(0)
    clf = TreeClassifier(TreeClassifierConfig(vocab_size=len(VOCAB), hidden_size=5, model=model)).double()
    trees = [parse_tree(t) for t in texts]
    batch = batch_trees(trees, VOCAB.__getitem__, int, max_children=clf.max_children)
    parts = encode_levels(clf.composition, batch, clf.embedding(batch.words))
    loss_b = sum((p[batch.post_order] * torch.arange(p.numel()).view_as(p).sin()).sum() for p in parts)
    grads_b = torch.autograd.grad(loss_b, list(clf.parameters()), allow_unused=True)

    def word_vector(w):
        return clf.embedding.weight[VOCAB[w]]

    ref = [s for t in trees for s in encode_node_by_node(clf.composition, t, word_vector)]
    ref_parts = [torch.stack(ps) for ps in zip(*ref)]  # each (N, H), post-order
    for p, r in zip(parts, ref_parts):
        torch.testing.assert_close(p[batch.post_order], r, rtol=1e-12, atol=1e-13)
    loss_r = sum((r * torch.arange(r.numel()).view_as(r).sin()).sum() for r in ref_parts)
    grads_r = torch.autograd.grad(loss_r, list(clf.parameters()), allow_unused=True)
    for gb, gr in zip(grads_b, grads_r):
        if gb is None:
            assert gr is None
        else:
            torch.testing.assert_close(gb, gr, rtol=1e-10, atol=1e-12)


def test_root_and_all_node_losses_by_hand():
    torch.manual_seed(1)
    clf = TreeClassifier(TreeClassifierConfig(vocab_size=len(VOCAB), hidden_size=4)).double()
    batch = batch_trees([parse_tree(t) for t in TREES], VOCAB.__getitem__, int)
    logits = clf(batch)
    logp = logits.log_softmax(-1)
    all_loss, n = TREE_LOSSES["all"](logits, batch)
    assert n == 20
    torch.testing.assert_close(all_loss, -logp[torch.arange(20), batch.labels].mean())
    root_loss, r = TREE_LOSSES["root"](logits, batch)
    assert r == 4
    want = -torch.stack([logp[i, int(t[1])] for i, t in zip(batch.roots.tolist(), TREES)]).mean()
    torch.testing.assert_close(root_loss, want)


def test_same_seed_same_result_and_config_errors():
    batch = batch_trees([parse_tree(t) for t in TREES], VOCAB.__getitem__, int)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        outs.append(TreeClassifier(TreeClassifierConfig(vocab_size=6, hidden_size=4))(batch))
    assert torch.equal(*outs)
    with pytest.raises(ValueError, match="model: expected one of \\['child_sum', 'recursive', 'tree_lstm'\\], got 'x'"):
        TreeClassifierConfig(vocab_size=3, model="x")
    with pytest.raises(ValueError, match="hidden_size: expected a positive integer, got 0"):
        TreeClassifierConfig(vocab_size=3, hidden_size=0)
    with pytest.raises(ValueError, match="word id 5 out of range; expected < 3"):
        TreeClassifier(TreeClassifierConfig(vocab_size=3, hidden_size=4))(batch)
