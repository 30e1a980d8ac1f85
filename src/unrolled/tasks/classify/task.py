"""The classification task as the shared machinery sees it: options, resume rules, evaluate, predict, info, and
the ``neighbours`` command.

    unrolled train classify --data reviews.csv --text-column review --label-column sentiment --bidirectional
    unrolled train classify --data names/ --tokenizer char --cell gru --pooling attention
    unrolled evaluate RUN [--data FILE] [--json] [--confusion out.png]
    unrolled predict RUN lines.txt          # or - for standard input: label <TAB> probability per line
    unrolled neighbours RUN WORD [--k 10]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unrolled.tasks.classify.config import CLASS_WEIGHTS, ClassifyRunConfig
from unrolled.tasks.classify.run import (
    CONFUSION_FILE,
    evaluate_split,
    load_run,
    own_split,
    predict_texts,
    read_labelled_split,
    run_info,
    train_in_session,
)
from unrolled.tasks.options import RESUME_KEYS, RESUME_OPTIONS, cells, tokenizers, training_options
from unrolled.tasks.spec import Command, Option, Report, Task

__all__ = ["TASK"]


def _poolings() -> list[str]:
    from unrolled.layers.pooling import POOLINGS

    return list(POOLINGS)


_D, _M = "data", "model"

TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("--data", "a CSV/TSV file of text and label, or a folder per class (one file per class, a line per "
           "example; or one sub-folder per class, a file per example)", "data.path", metavar="FILE_OR_DIR", group=_D),
    Option("--valid", "validation file (default: 10%% of every class of --data, seeded)", "data.valid",
           metavar="FILE", group=_D),
    Option("--test", "test file, scored by 'unrolled evaluate RUN'", "data.test", metavar="FILE", group=_D),
    Option("--text-column", "text column: header name or 0-based index (default 'text')", "data.text_column",
           metavar="C", group=_D),
    Option("--label-column", "label column: header name or 0-based index (default 'label')", "data.label_column",
           metavar="C", group=_D),
    Option("--header", "the first row names the columns (default: when a column is given by name)", "data.header",
           switch=True, group=_D),
    Option("--delimiter", "field separator (default: by extension, .tsv tab, .csv comma)", "data.delimiter",
           metavar="CHAR", group=_D),
    Option("--multi-label", "several labels per example (split on --label-separator), independent sigmoids",
           "data.multi_label", switch=True, group=_D),
    Option("--label-separator", "separates labels with --multi-label (default ',')", "data.label_separator",
           metavar="SEP", group=_D),
    Option("--tokenizer", "word (default) or char tokens", "data.tokenizer", choices=tokenizers, group=_D),
    Option("--lowercase", "lower-case the texts (default off)", "data.lowercase", switch=True, group=_D),
    Option("--min-freq", "rarer tokens become <unk> (default 1)", "data.min_freq", int, "N", group=_D),
    Option("--max-vocab", "keep at most N tokens (incl. the 4 specials)", "data.max_vocab", int, "N", group=_D),
    Option("--class-weights", "weigh classes for imbalanced data (default none)", "data.class_weights",
           choices=list(CLASS_WEIGHTS), group=_D),
    Option("--vectors", "pretrained word vectors (word2vec/GloVe text format) for the embedding", "data.vectors",
           metavar="FILE", group=_D),
    Option("--freeze", "keep the pretrained vectors fixed (default: fine-tune them)", "data.freeze", switch=True,
           group=_D),
    Option("--batch-size", "examples per batch (default 32)", "data.batch_size", int, "B", group=_D),
    Option("--cell", "recurrent cell (default lstm): " + ", ".join(cells()), "model.cell", metavar="CELL", group=_M),
    Option("--layers", "stacked recurrent layers (default 1)", "model.layers", int, "N", group=_M),
    Option("--hidden", "hidden units per layer and direction (default 128)", "model.hidden", int, "H", group=_M),
    Option("--embed", "embedding width (default 64, or the vectors' width)", "model.embed_dim", int, "E", group=_M),
    Option("--bidirectional", "read each text both ways (default off)", "model.bidirectional", switch=True,
           group=_M),
    Option("--pooling", "one vector per text: last state (default), mean, max or attention", "model.pooling",
           choices=_poolings, group=_M),
    Option("--head-hidden", "a hidden layer of this width in the dense head (default 0: none)", "model.head_hidden",
           int, "N", group=_M),
    Option("--dropout", "dropout (default 0)", "model.dropout", float, "P", group=_M),
    *training_options(
        epochs="passes over the data (default 10)",
        lr="learning rate (default 2e-3)",
        optimizer="default adam",
        clip="clip the global gradient norm (default 5)",
        seed="random seed (default 0), also of the held-out split",
    ),
)  # fmt: skip


def evaluate(run_dir: Path, opts: dict[str, Any]) -> Report:
    """Accuracy, macro/micro F1, per-class scores of a run on ``--data`` (or its test / validation split), and the
    confusion matrix as a PNG (``RUN/confusion.png`` or ``--confusion FILE``)."""
    run = load_run(run_dir)
    data = opts.get("data")
    if data is not None:
        split, where = read_labelled_split(run, str(data)), str(data)
    else:
        split, where = own_split(run)
    report = evaluate_split(run, split)
    lines = [f"{run.run_dir} on {where} ({len(split.ids):,} examples):", report.format()]
    metrics = report.to_dict()
    if report.confusion is not None:
        from unrolled.viz.confusion import plot_confusion

        out = Path(opts.get("confusion") or (run.run_dir / CONFUSION_FILE))
        plot_confusion(report.confusion, run.labels, out, title=f"{run.run_dir.name} on {where}")
        lines.append(f"confusion matrix: {out}")
        metrics["confusion_png"] = str(out)
    if run.note:
        lines.insert(0, f"note: {run.note}")
    return Report(metrics, "\n".join(lines), data=where)


def predict(run_dir: Path, opts: dict[str, Any]) -> list[str]:
    """``unrolled predict RUN INPUT``: for each non-empty line of INPUT (``-``: standard input), the label and its
    probability, tab-separated (multi-label: ``a,b`` and ``0.91,0.77``)."""
    from unrolled.tasks.runs import RunError, read_input

    if opts.get("input") is None:
        raise RunError("predict needs INPUT: a file of texts, one per line, or - for standard input")
    run = load_run(run_dir)
    texts = [line.strip() for line in read_input(opts["input"]).splitlines() if line.strip()]
    if not texts:
        raise RunError(f"{opts['input']} has no text; expected one text per line")
    return [f"{','.join(labels)}\t{','.join(f'{p:.4f}' for p in probs)}" for labels, probs in predict_texts(run, texts)]


def neighbours(opts: dict[str, Any]) -> int:
    """``unrolled neighbours RUN WORD``: the words whose embeddings are closest (cosine) to WORD's."""
    from unrolled.analysis.neighbours import nearest_neighbours

    run = load_run(opts["run"])
    vocab = run.encoder.vocab
    word = opts["word"].lower() if run.config.data.lowercase else opts["word"]
    k = opts.get("k") or 10
    matrix = run.model.embedding.weight.detach()  # (V, E)
    for token, sim in nearest_neighbours(matrix, vocab.tokens, word, k=k, exclude=vocab.specials):
        print(f"{token}\t{sim:.4f}")
    return 0


NEIGHBOURS = Command(
    name="neighbours",
    help="nearest neighbours of a word in a classification run's embedding (cosine similarity)",
    description="The words whose embedding vectors are most cosine-similar to WORD's (special tokens left out).",
    run=neighbours,
    options=(
        Option("run", "a classification run folder", metavar="RUN"),
        Option("word", "the word (or character, for a char run)", metavar="WORD"),
        Option("--k", "how many neighbours (default 10)", type=int, metavar="K", default=10),
    ),
)

TRAIN_EPILOG = """\
examples:
  unrolled train classify --data reviews.csv --text-column review --label-column sentiment
  unrolled train classify --data train.tsv --text-column 1 --label-column 0 --valid dev.tsv --test test.tsv
  unrolled train classify --data names/ --tokenizer char --cell gru --bidirectional --pooling attention
  unrolled train classify --data tags.csv --multi-label --class-weights balanced
  unrolled train classify --data reviews.csv --vectors glove.6B.100d.txt --freeze --lowercase
  unrolled evaluate RUN --data test.csv --json
  unrolled predict RUN texts.txt              # label <TAB> probability per line
  unrolled neighbours RUN good --k 5

Two classes train one sigmoid (binary), more a softmax; --multi-label trains independent sigmoids. Without --valid,
10% of every class is held out with the run's seed.
"""

TASK = Task(
    name="classify",
    summary="classify whole texts (sentiment, names by language, topics; multi-label too)",
    description="Train a recurrent classifier on labelled texts (a CSV/TSV file or a folder per class).",
    config_type=ClassifyRunConfig,
    train=train_in_session,
    evaluate=evaluate,
    predict=predict,
    info=run_info,
    train_options=TRAIN_OPTIONS,
    evaluate_options=(
        Option("--confusion", "write the confusion matrix PNG here (default RUN/confusion.png)", metavar="PNG"),
    ),
    resume_options=RESUME_OPTIONS,
    resume_keys=RESUME_KEYS,
    commands=(NEIGHBOURS,),
    epilog=TRAIN_EPILOG,
)  # fmt: skip
