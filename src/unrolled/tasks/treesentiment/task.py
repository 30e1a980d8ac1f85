"""The tree-sentiment task as the shared machinery sees it (Stanford Sentiment Treebank style data).

unrolled train treesentiment --data train.txt --valid dev.txt [--test test.txt] [--model tree_lstm]
unrolled evaluate RUN [--data FILE] [--json]   # fine-grained and binary accuracy, roots and all nodes
unrolled predict RUN INPUT                     # root label <TAB> probability <TAB> labelled tree per line
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unrolled.tasks.options import RESUME_KEYS, RESUME_OPTIONS, training_options
from unrolled.tasks.spec import Option, Report, Task
from unrolled.tasks.treesentiment.config import TreeSentimentRunConfig
from unrolled.tasks.treesentiment.run import (
    evaluate_trees,
    format_accuracies,
    load_run,
    predict_trees,
    read_labelled,
    run_info,
    train_in_session,
)

__all__ = ["TASK"]


def _models() -> list[str]:
    from unrolled.models.tree_classifier import COMPOSITIONS

    return list(COMPOSITIONS)


_D, _M = "data", "model"

TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("--data", "training trees: bracketed, one per line, an integer label at every node", "data.path",
           metavar="FILE", group=_D),
    Option("--valid", "validation trees (required)", "data.valid", metavar="FILE", group=_D),
    Option("--test", "test trees, scored by 'unrolled evaluate RUN'", "data.test", metavar="FILE", group=_D),
    Option("--lowercase", "lower-case the words (default off)", "data.lowercase", switch=True, group=_D),
    Option("--min-freq", "rarer training words become <unk> (default 1)", "data.min_freq", int, "N", group=_D),
    Option("--batch-size", "trees per batch (default 25)", "data.batch_size", int, "B", group=_D),
    Option("--model", "tree_lstm (binary Tree-LSTM, default), child_sum or recursive", "model.model",
           choices=_models, group=_M),
    Option("--hidden", "hidden units (default 100)", "model.hidden", int, "H", group=_M),
    Option("--embed", "word-vector width (default: = hidden)", "model.embed", int, "E", group=_M),
    Option("--classes", "labels are 0..C-1 (default 5, as SST)", "model.classes", int, "C", group=_M),
    Option("--dropout", "dropout before the softmax (default 0)", "model.dropout", float, "P", group=_M),
    Option("--loss", "all: every node's label (default); root: the sentence label only", "model.loss",
           choices=("all", "root"), group=_M),
    *training_options(
        epochs="passes over the data (default 10)",
        lr="learning rate (default 5e-3)",
        optimizer="default adam",
        clip="clip the global gradient norm (default 5)",
    ),
)  # fmt: skip


def evaluate(run_dir: Path, opts: dict[str, Any]) -> Report:
    """Fine-grained and binary accuracy at the roots and over all nodes, on ``--data`` or the run's test (else
    validation) trees."""
    run = load_run(run_dir)
    data = opts.get("data")
    d = run.config.data
    path = str(data) if data is not None else (d.test or d.valid)
    what = "data" if data is not None else ("test data" if d.test else "validation data")
    trees = read_labelled(path, run.config.model.classes)
    acc = evaluate_trees(run, trees)
    lines = [f"{run.run_dir} on {what} {path} ({len(trees):,} trees):", format_accuracies(acc)]
    if run.note:
        lines.insert(0, f"note: {run.note}")
    return Report(acc, "\n".join(lines), data=path)


def predict(run_dir: Path, opts: dict[str, Any]) -> list[str]:
    """``unrolled predict RUN INPUT``: INPUT holds bracketed trees (labels ignored, e.g. ``(X (X good) (X film))``);
    per tree: root label, its probability, and the tree with predicted labels, tab-separated."""
    from unrolled.tasks.runs import RunError, read_input

    if opts.get("input") is None:
        raise RunError("predict needs INPUT: a file of bracketed trees, one per line, or - for standard input")
    run = load_run(run_dir)
    source = "standard input" if opts["input"] == "-" else str(opts["input"])
    return predict_trees(run, read_input(opts["input"]), source)


TRAIN_EPILOG = """\
examples:
  unrolled train treesentiment --data trees/train.txt --valid trees/dev.txt --test trees/test.txt
  unrolled train treesentiment --data train.txt --valid dev.txt --model child_sum --hidden 150 --dropout 0.5
  unrolled evaluate RUN --json
  unrolled predict RUN trees.txt      # root label <TAB> probability <TAB> tree with a predicted label per node

Trees are the Stanford Sentiment Treebank format: (3 (2 It) (4 (2 's) (3 good))), one per line. tree_lstm and
recursive need binary trees; child_sum takes any number of children. A generated treebank with a known grammar:
python benchmarks/trees.py --write DIR.
"""

TASK = Task(
    name="treesentiment",
    summary="sentiment at every node of parse trees (Tree-LSTM, Child-Sum Tree-LSTM, recursive network)",
    description="Train a tree-structured network on bracketed trees with a sentiment label at every node.",
    config_type=TreeSentimentRunConfig,
    train=train_in_session,
    evaluate=evaluate,
    predict=predict,
    info=run_info,
    train_options=TRAIN_OPTIONS,
    resume_options=RESUME_OPTIONS,
    resume_keys=RESUME_KEYS,
    epilog=TRAIN_EPILOG,
)  # fmt: skip
