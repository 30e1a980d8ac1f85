"""Training, loading and using a tree-sentiment run.

A run folder holds ``config.json``, ``vocab.json``, the trainer's ``checkpoint/``, ``best/model.safetensors`` and
``metrics.csv``. Labels are the integers 0..C-1 written at every node (SST: 0 very negative .. 4 very positive).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unrolled.config_io import to_dict
from unrolled.data.tree_batch import TreeBatch, batch_trees
from unrolled.data.trees import Tree, TreeFormatError, parse_trees, read_trees
from unrolled.metrics.tree_sentiment import binary_counts, fine_grained_counts
from unrolled.models.tree_classifier import TREE_LOSSES, TreeClassifier
from unrolled.tasks.resolve import load_run_config
from unrolled.tasks.runs import RunError, choose_weights
from unrolled.tasks.session import RunSession
from unrolled.tasks.spec import TrainOutcome
from unrolled.tasks.treesentiment.config import TreeSentimentRunConfig
from unrolled.text.vocab import UNK, Vocabulary
from unrolled.train.checkpoint import load_model_weights
from unrolled.train.objective import StepResult

__all__ = ["evaluate_trees", "load_run", "predict_trees", "read_labelled", "run_info", "train_in_session"]

VOCAB_FILE = "vocab.json"


# --- data -----------------------------------------------------------------------------------------------------
def read_labelled(path: str, classes: int) -> list[Tree]:
    """Trees of ``path`` whose every label is an integer 0..classes-1 (else a one-line error naming the line)."""
    trees = read_trees(path)
    ok = {str(i) for i in range(classes)}
    for i, t in enumerate(trees, start=1):
        bad = next((lab for lab in t.labels() if lab not in ok), None)
        if bad is not None:
            raise TreeFormatError(f"{path} tree {i}: label {bad!r}; expected an integer 0..{classes - 1}")
    return trees


def _words(tree: Tree, lowercase: bool) -> list[str]:
    return [w.lower() for w in tree.leaves()] if lowercase else tree.leaves()


class TreeBatches:
    """Batches of trees (:class:`~unrolled.data.tree_batch.TreeBatch`), shuffled per epoch with a seed derived
    from (seed, epoch), with the trainer's ``set_epoch`` / ``iter_from`` for exact resumption."""

    def __init__(self, trees, vocab: Vocabulary, lowercase: bool, max_children, batch_size, shuffle, seed=0):
        self.trees, self.batch_size, self.shuffle, self.seed, self.epoch = trees, batch_size, shuffle, seed, 0
        self.max_children = max_children
        index = {t: i for i, t in enumerate(vocab.tokens)}
        unk = index[UNK]
        self.word_id = (lambda w: index.get(w.lower(), unk)) if lowercase else (lambda w: index.get(w, unk))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.trees) // self.batch_size)

    def order(self) -> list[int]:
        idx = list(range(len(self.trees)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(idx)
        return idx

    def make(self, idx: list[int]) -> TreeBatch:
        return batch_trees([self.trees[i] for i in idx], self.word_id, int, self.max_children)

    def iter_from(self, n: int) -> Iterator[TreeBatch]:
        order = self.order()
        for start in range(n * self.batch_size, len(order), self.batch_size):
            yield self.make(order[start : start + self.batch_size])

    def __iter__(self) -> Iterator[TreeBatch]:
        return self.iter_from(0)


class TreeObjective:
    """Cross-entropy of the node labels: all nodes or roots only (:data:`TREE_LOSSES`, resolved once)."""

    def __init__(self, loss: str):
        self.loss = TREE_LOSSES[loss]

    def __call__(self, model, batch: TreeBatch, state) -> StepResult:
        loss, count = self.loss(model(batch), batch)
        return StepResult(loss, count)


def _check_trees(trees: list[Tree], max_children: int | None, path: str, model: str) -> None:
    if max_children is None:
        return
    for i, t in enumerate(trees, start=1):
        if any(len(n.children) > max_children for n in t.nodes()):
            raise TreeFormatError(
                f"{path} tree {i}: a node with more than {max_children} children; the {model} model needs binary "
                "trees (binarise them, or use --model child_sum)"
            )


# --- training -------------------------------------------------------------------------------------------------
def train_in_session(cfg: TreeSentimentRunConfig, session: RunSession) -> TrainOutcome:
    """The tree-sentiment part of a training session (the task's ``train``)."""
    session.device  # noqa: B018 - a missing device is a one-line error before the data is read
    d, m = cfg.data, cfg.model
    if d.path is None:
        raise RunError("treesentiment needs --data TRAIN_TREES")
    if d.valid is None:
        raise RunError("treesentiment needs --valid DEV_TREES (validation trees for early stopping and best/)")
    train = read_labelled(d.path, m.classes)
    valid = read_labelled(d.valid, m.classes)
    test = read_labelled(d.test, m.classes) if d.test else None
    torch.manual_seed(cfg.train.seed)
    vocab = Vocabulary.build((w for t in train for w in _words(t, d.lowercase)), min_freq=d.min_freq)
    if session.resume:
        saved = Vocabulary.load(session.run_dir / VOCAB_FILE)
        if saved != vocab:
            raise RunError(f"{session.run_dir}: the data no longer gives the vocabulary this run was trained with")
    model = TreeClassifier(m.classifier(len(vocab)))
    for trees, path in ((train, d.path), (valid, d.valid), (test or [], d.test)):
        _check_trees(trees, model.max_children, path, m.model)
    n_nodes = sum(len(t.labels()) for t in train)
    session.print(
        f"data: {len(train):,} train ({n_nodes:,} nodes) / {len(valid):,} valid"
        + (f" / {len(test):,} test" if test is not None else "")
        + f" trees, vocabulary {len(vocab)}; model {m.model}, {sum(p.numel() for p in model.parameters()):,} "
        f"parameters; run folder {session.run_dir}"
    )
    if session.main:
        vocab.save(session.path(VOCAB_FILE))
    mc = model.max_children
    batches = TreeBatches(train, vocab, d.lowercase, mc, d.batch_size, shuffle=True, seed=cfg.train.seed)
    valid_b = TreeBatches(valid, vocab, d.lowercase, mc, d.eval_batch_size, shuffle=False)
    extra = session.record(cfg, source={"train": len(train), "valid": len(valid), "test": len(test or [])})
    result = session.fit(model, TreeObjective(m.loss), batches, valid_b, cfg.train, extra_config=extra)
    if session.main and (session.run_dir / "best").exists():
        acc = evaluate_trees(load_run(session.run_dir), valid)
        session.print(f"validation (best weights): {format_accuracies(acc)}")
    hint = f"evaluate it with: unrolled evaluate {session.run_dir}"
    return session.outcome(result, hint)


# --- loading and using a run ----------------------------------------------------------------------------------
@dataclass
class LoadedTreeRun:
    run_dir: Path
    config: TreeSentimentRunConfig
    raw: dict[str, Any]
    vocab: Vocabulary
    model: TreeClassifier
    note: str | None = None

    def batches(self, trees: list[Tree]) -> TreeBatches:
        d = self.config.data
        return TreeBatches(trees, self.vocab, d.lowercase, self.model.max_children, d.eval_batch_size, False)


def load_run(run_dir: str | Path, which: str = "best") -> LoadedTreeRun:
    """A trained tree-sentiment run, its model in eval mode."""
    from unrolled.tasks.treesentiment.task import TASK

    run_dir = Path(run_dir)
    cfg, raw = load_run_config(TASK, run_dir)
    if not (run_dir / VOCAB_FILE).is_file():
        raise RunError(f"{run_dir} has no {VOCAB_FILE}; the run is incomplete")
    vocab = Vocabulary.load(run_dir / VOCAB_FILE)
    model = TreeClassifier(cfg.model.classifier(len(vocab)))
    choice = choose_weights(run_dir, which)
    load_model_weights(model, choice.path)
    model.eval()
    return LoadedTreeRun(run_dir, cfg, raw, vocab, model, choice.note)


@torch.no_grad()
def evaluate_trees(run: LoadedTreeRun, trees: list[Tree]) -> dict[str, Any]:
    """Fine-grained and binary accuracy at the roots and over all nodes, with the counts."""
    counts = {k: [0, 0] for k in ("root_fine", "root_binary", "all_fine", "all_binary")}
    for b in run.batches(trees):
        logits = run.model(b)  # (N, C)
        for where, idx in (("root", b.roots), ("all", slice(None))):
            for name, fn in (("fine", fine_grained_counts), ("binary", binary_counts)):
                c, t = fn(logits[idx], b.labels[idx])
                counts[f"{where}_{name}"][0] += c
                counts[f"{where}_{name}"][1] += t
    out: dict[str, Any] = {k: (c / t if t else None) for k, (c, t) in counts.items()}
    out["counts"] = {k: {"correct": c, "total": t} for k, (c, t) in counts.items()}
    return out


def format_accuracies(acc: dict[str, Any]) -> str:
    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}%"

    return (
        f"root fine {pct(acc['root_fine'])}, root binary {pct(acc['root_binary'])}, "
        f"all-node fine {pct(acc['all_fine'])}, all-node binary {pct(acc['all_binary'])}"
    )


@torch.no_grad()
def predict_trees(run: LoadedTreeRun, text: str, source: str) -> list[str]:
    """For each bracketed tree of ``text`` (its labels are ignored: any token will do): the root's label, its
    probability, and the tree with the predicted label at every node, tab-separated."""
    trees = parse_trees(text, source)
    mc = run.model.max_children
    if mc is not None:
        _check_trees(trees, mc, source, run.config.model.model)
    out = []
    batches = run.batches(trees)
    for start in range(0, len(trees), batches.batch_size):
        chunk = trees[start : start + batches.batch_size]
        b = batch_trees(chunk, batches.word_id, None, mc)
        probs = run.model(b).softmax(-1)  # (N, C)
        pred = probs.argmax(-1)[b.post_order].tolist()  # post-order, per tree in turn
        pos = 0
        for t, root in zip(chunk, b.roots.tolist()):
            n = len(t.labels())
            labels = iter(pred[pos : pos + n])
            pos += n
            out.append(f"{int(probs[root].argmax())}\t{float(probs[root].max()):.4f}\t{_relabel(t, labels)}")
    return out


def _relabel(tree: Tree, labels: Iterator[int]) -> Tree:
    """``tree`` with its labels replaced, in post-order, by ``labels``."""
    if tree.is_leaf:
        return Tree(str(next(labels)), word=tree.word)
    kids = tuple(_relabel(c, labels) for c in tree.children)
    return Tree(str(next(labels)), kids)


def run_info(run_dir: Path, raw: dict[str, Any]) -> dict[str, Any]:
    from unrolled.tasks.treesentiment.task import TASK

    cfg, raw = load_run_config(TASK, run_dir)
    m = cfg.model
    return {
        "description": f"{m.model} over trees, hidden {m.hidden}, {m.classes} classes, {m.loss}-node loss",
        "model": to_dict(m),
        "data": {**to_dict(cfg.data), **(raw.get("source") or {})},
        "train": to_dict(cfg.train),
    }
