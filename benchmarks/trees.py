"""Tree-LSTM vs a chain LSTM on a generated sentiment treebank whose labels depend on the tree, and tree-level
batching speed vs node-by-node recursion.

The treebank grammar (known, so the tree's role is clear): words carry a sentiment value v in -2..2 (label v+2);
a parent of (negator, X) has -v(X) (negation flips its scope, the right sibling); any other parent has
clip(v(left) + v(right), -2, 2). Bracketings are random, so the same words under another tree can have another
root label: "not good bad" is -(2-1) = -1 as (not (good bad)) but clip(-2-1) = -2 as ((not good) bad). A chain
LSTM sees only the words; the Tree-LSTM reads the tree.

Run:  python benchmarks/trees.py            (default: a few minutes on 2 CPU cores)
      python benchmarks/trees.py --full     (more data and epochs)
      python benchmarks/trees.py --write DIR [--write-only]
            (also write train/dev/test.txt for `unrolled train treesentiment` and train/dev/test.tsv, text and
            root label, for the chain baseline `unrolled train classify`)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from unrolled.data.tree_batch import batch_trees
from unrolled.data.trees import Tree, write_trees
from unrolled.layers.recurrent import Recurrent
from unrolled.metrics.tree_sentiment import sentiment_accuracies
from unrolled.models.tree_classifier import TREE_LOSSES, TreeClassifier, TreeClassifierConfig, encode_node_by_node

WORDS = {
    "superb": 2, "wonderful": 2, "good": 1, "nice": 1, "fine": 1,
    "awful": -2, "terrible": -2, "bad": -1, "dull": -1, "weak": -1,
    "the": 0, "film": 0, "plot": 0, "actors": 0, "story": 0, "was": 0,
}  # fmt: skip
NEGATORS = ("not", "never")


def make_tree(rng: random.Random, n: int) -> tuple[Tree, int]:
    """A random binary tree over n leaves, labelled by the grammar; returns (tree, value)."""
    if n == 1:
        if rng.random() < 0.15:
            w = rng.choice(NEGATORS)
            return Tree("2", word=w), 0
        w = rng.choice(list(WORDS))
        return Tree(str(WORDS[w] + 2), word=w), WORDS[w]
    k = rng.randint(1, n - 1)
    (left, vl), (right, vr) = make_tree(rng, k), make_tree(rng, n - k)
    v = -vr if left.word in NEGATORS else max(-2, min(2, vl + vr))
    return Tree(str(v + 2), (left, right)), v


def treebank(rng: random.Random, count: int, lo: int = 3, hi: int = 12) -> list[Tree]:
    return [make_tree(rng, rng.randint(lo, hi))[0] for _ in range(count)]


class ChainLSTM(nn.Module):
    """Chain baseline: embeddings, an LSTM over the words, the last state classifies the sentence."""

    def __init__(self, vocab: int, hidden: int, classes: int = 5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.rnn = Recurrent("lstm", hidden, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, ids, lengths):
        _, ((h, _),) = self.rnn(self.embedding(ids), lengths=lengths)  # h (B, H)
        return self.out(h)


def chain_batch(trees, vocab):
    seqs = [[vocab[w] for w in t.leaves()] for t in trees]
    T = max(map(len, seqs))
    ids = torch.tensor([s + [0] * (T - len(s)) for s in seqs])
    return ids, torch.tensor([len(s) for s in seqs]), torch.tensor([int(t.label) for t in trees])


def train_tree(model, train, vocab, epochs, loss_name, bs=25, lr=0.01, seed=0):
    rng, opt, loss_fn = random.Random(seed), torch.optim.Adam(model.parameters(), lr=lr), TREE_LOSSES[loss_name]
    for _ in range(epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for i in range(0, len(order), bs):
            b = batch_trees([train[j] for j in order[i : i + bs]], vocab.__getitem__, int, model.max_children)
            loss, _ = loss_fn(model(b), b)
            opt.zero_grad()
            loss.backward()
            opt.step()


def train_chain(model, train, vocab, epochs, bs=25, lr=0.01, seed=0):
    rng, opt = random.Random(seed), torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for i in range(0, len(order), bs):
            ids, lengths, y = chain_batch([train[j] for j in order[i : i + bs]], vocab)
            loss = F.cross_entropy(model(ids, lengths), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


@torch.no_grad()
def eval_tree(model, test, vocab):
    model.eval()
    b = batch_trees(test, vocab.__getitem__, int, model.max_children)
    return sentiment_accuracies(model(b), b.labels, b.roots)


@torch.no_grad()
def eval_chain(model, test, vocab):
    model.eval()
    ids, lengths, y = chain_batch(test, vocab)
    logits = model(ids, lengths)
    return sentiment_accuracies(logits, y, torch.arange(len(test)))


def speed(vocab, trees, hidden, repeats):
    """Forward + backward of one batch: level-batched vs node-by-node recursion (median seconds)."""
    torch.manual_seed(0)
    model = TreeClassifier(TreeClassifierConfig(vocab_size=len(vocab), hidden_size=hidden))
    b = batch_trees(trees, vocab.__getitem__, int, 2)

    def batched():
        model.zero_grad()
        F.cross_entropy(model(b), b.labels).backward()

    def recursive():
        model.zero_grad()
        hs = [
            s[0]
            for t in trees
            for s in encode_node_by_node(model.composition, t, lambda w: model.embedding.weight[vocab[w]])
        ]
        logits = model.classifier(torch.stack(hs))
        F.cross_entropy(logits, b.labels[b.post_order]).backward()

    out = {}
    for name, fn in (("levels", batched), ("node_by_node", recursive)):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="4000 training trees, 12 epochs")
    p.add_argument("--train", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--hidden", type=int, default=48)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--write", type=Path, default=None, help="write train/dev/test.txt of the generated treebank")
    p.add_argument("--write-only", action="store_true", help="with --write: write the files and stop")
    a = p.parse_args(argv)
    if a.full:
        a.train, a.epochs = 4000, 12
    torch.set_num_threads(a.threads)
    rng = random.Random(12)
    train, dev, test = treebank(rng, a.train), treebank(rng, 300), treebank(rng, 600)
    if a.write:
        a.write.mkdir(parents=True, exist_ok=True)
        for name, trees in (("train", train), ("dev", dev), ("test", test)):
            write_trees(a.write / f"{name}.txt", trees)
            # the same sentences with their root labels, for the chain baseline `unrolled train classify`
            rows = ["text\tlabel", *(f"{' '.join(t.leaves())}\t{t.label}" for t in trees)]
            (a.write / f"{name}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"wrote {a.write}/{{train,dev,test}}.{{txt,tsv}}")
        if a.write_only:
            return 0
    vocab = {w: i for i, w in enumerate(sorted({w for t in train + dev + test for w in t.leaves()}))}
    print(f"treebank: {len(train)} train / {len(test)} test trees, {len(vocab)} words, epochs {a.epochs}, H {a.hidden}")
    rows = []
    for name, model_name, loss in (
        ("tree_lstm all-node", "tree_lstm", "all"),
        ("tree_lstm root-only", "tree_lstm", "root"),
        ("child_sum all-node", "child_sum", "all"),
        ("recursive all-node", "recursive", "all"),
    ):
        torch.manual_seed(0)
        m = TreeClassifier(TreeClassifierConfig(vocab_size=len(vocab), hidden_size=a.hidden, model=model_name))
        t0 = time.perf_counter()
        train_tree(m, train, vocab, a.epochs, loss)
        rows.append((name, eval_tree(m, test, vocab), time.perf_counter() - t0))
    torch.manual_seed(0)
    chain = ChainLSTM(len(vocab), a.hidden)
    t0 = time.perf_counter()
    train_chain(chain, train, vocab, a.epochs)
    rows.append(("chain LSTM (words only)", eval_chain(chain, test, vocab), time.perf_counter() - t0))
    print(f"{'model':26s} {'root fine':>9s} {'root bin':>9s} {'all fine':>9s} {'all bin':>9s} {'train s':>8s}")
    for name, acc, secs in rows:
        cells = [f"{acc[k]:9.3f}" for k in ("root_fine", "root_binary", "all_fine", "all_binary")]
        print(f"{name:26s} {' '.join(cells)} {secs:8.1f}")
    print("(chain LSTM 'all' columns are the roots again: it labels whole sentences only)")
    sp = speed(vocab, test[:25], a.hidden, repeats=7)
    print(
        f"speed, 25 trees fwd+bwd (median of 7): levels {sp['levels'] * 1e3:.1f} ms, node-by-node "
        f"{sp['node_by_node'] * 1e3:.1f} ms, ratio {sp['node_by_node'] / sp['levels']:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
