"""The tagging task as the shared machinery sees it: options, resume rules, evaluate, predict, info.

unrolled train tag --data train.conll --valid dev.conll --columns 0,3 --crf --char-encoder
unrolled train tag --data en_ewt-ud-train.conllu --valid en_ewt-ud-dev.conllu --format conllu --tagset upos
unrolled evaluate RUN [--data FILE] [--json]   # token accuracy, entity P/R/F1 per type (conlleval)
unrolled predict RUN INPUT                     # CoNLL in, CoNLL out with a predicted column; or text lines
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unrolled.tasks.options import RESUME_KEYS, RESUME_OPTIONS, cells, training_options
from unrolled.tasks.spec import Option, Report, Task
from unrolled.tasks.tag.config import SCHEME_CHOICES, TagRunConfig
from unrolled.tasks.tag.run import (
    INPUT_FORMATS,
    evaluate_split,
    format_scores,
    load_run,
    own_split,
    predict_lines,
    read_labelled_split,
    run_info,
    train_in_session,
)

__all__ = ["TASK"]

_D, _M = "data", "model"

TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("--data", "training sentences: CoNLL columns (blank line between sentences) or CoNLL-U", "data.path",
           metavar="FILE", group=_D),
    Option("--valid", "validation sentences, same format", "data.valid", metavar="FILE", group=_D),
    Option("--test", "test sentences, scored by 'unrolled evaluate RUN'", "data.test", metavar="FILE", group=_D),
    Option("--format", "conll (default) or conllu", "data.format", choices=("conll", "conllu"), group=_D),
    Option("--columns", "CoNLL token and tag columns, 0-based, negative from the end (default 0,-1)",
           "data.columns", metavar="TOKEN,TAG", group=_D),
    Option("--tagset", "CoNLL-U tags: upos (default) or xpos", "data.tagset", choices=("upos", "xpos"), group=_D),
    Option("--scheme", "chunk scheme of the tags (default auto: detected; none: plain labels such as POS)",
           "data.scheme", choices=SCHEME_CHOICES, group=_D),
    Option("--lowercase", "lower-case the words (characters keep their case; default off)", "data.lowercase",
           switch=True, group=_D),
    Option("--min-freq", "rarer words become <unk> (default 1)", "data.min_freq", int, "N", group=_D),
    Option("--vectors", "pretrained word vectors (word2vec/GloVe text format) for the embedding", "data.vectors",
           metavar="FILE", group=_D),
    Option("--freeze", "keep the pretrained vectors fixed (default: fine-tune them)", "data.freeze", switch=True,
           group=_D),
    Option("--batch-size", "sentences per batch (default 32)", "data.batch_size", int, "B", group=_D),
    Option("--cell", "recurrent cell (default lstm)", "model.cell", choices=cells, group=_M),
    Option("--layers", "stacked recurrent layers (default 1)", "model.layers", int, "N", group=_M),
    Option("--hidden", "hidden units per direction (default 100)", "model.hidden", int, "H", group=_M),
    Option("--embed", "word embedding width (default 100, or the vectors' width)", "model.embed_dim", int, "E",
           group=_M),
    Option("--bidirectional", "read sentences both ways (default on)", "model.bidirectional", switch=True, group=_M),
    Option("--dropout", "dropout (default 0.5)", "model.dropout", float, "P", group=_M),
    Option("--crf", "a linear-chain CRF with Viterbi decoding instead of a per-token softmax", "model.crf",
           switch=True, group=_M),
    Option("--char-encoder", "a character BiLSTM per word (spelling features for unknown words)",
           "model.char_encoder", switch=True, group=_M),
    *training_options(
        epochs="passes over the data (default 10)",
        lr="learning rate (default 2e-3)",
        optimizer="default adam",
        clip="clip the global gradient norm (default 5)",
    ),
)  # fmt: skip


def evaluate(run_dir: Path, opts: dict[str, Any]) -> Report:
    """Token accuracy and entity precision/recall/F1 per type of a run on ``--data`` (or its test / validation
    file)."""
    run = load_run(run_dir)
    data = opts.get("data")
    if data is not None:
        split, where = read_labelled_split(run, str(data)), str(data)
    else:
        split, where = own_split(run)
    metrics = evaluate_split(run, split)
    lines = [f"{run.run_dir} on {where} ({metrics['sentences']:,} sentences):", format_scores(metrics)]
    if run.note:
        lines.insert(0, f"note: {run.note}")
    return Report(metrics, "\n".join(lines), data=where)


def predict(run_dir: Path, opts: dict[str, Any]) -> list[str]:
    """``unrolled predict RUN INPUT``: CoNLL in, CoNLL out with a predicted column; text lines in, one
    ``token<TAB>tag`` per line out (``-``: standard input)."""
    from unrolled.tasks.runs import RunError, read_input

    if opts.get("input") is None:
        raise RunError("predict needs INPUT: a CoNLL file, a file of sentences (one per line), or - for stdin")
    run = load_run(run_dir)
    name = "standard input" if opts["input"] == "-" else str(opts["input"])
    return predict_lines(run, read_input(opts["input"]), opts.get("input_format") or "auto", name)


TRAIN_EPILOG = """\
examples:
  unrolled train tag --data train.conll --valid dev.conll --test test.conll --columns 0,3 --crf --char-encoder
  unrolled train tag --data train.conllu --valid dev.conllu --format conllu --tagset xpos
  unrolled train tag --data train.conll --valid dev.conll --vectors glove.6B.100d.txt --lowercase --crf
  unrolled evaluate RUN --data test.conll --json
  unrolled predict RUN test.conll          # the input with a predicted column appended
  echo "John lives in Paris" | unrolled predict RUN -

Entity scores are conlleval's (a predicted entity counts when type, start and end all match). With --crf the
transitions the tag scheme forbids (e.g. O -> I-PER in BIO) are ruled out (--set model.constrain=false lifts it).
"""

TASK = Task(
    name="tag",
    summary="tag every token (part of speech, named entities): BiLSTM with softmax or CRF",
    description="Train a recurrent sequence tagger on CoNLL or CoNLL-U sentences.",
    config_type=TagRunConfig,
    train=train_in_session,
    evaluate=evaluate,
    predict=predict,
    info=run_info,
    train_options=TRAIN_OPTIONS,
    predict_options=(
        Option("--input-format", "auto (default), conll, conllu or text (a sentence per line)", choices=INPUT_FORMATS),
    ),
    resume_options=RESUME_OPTIONS,
    resume_keys=RESUME_KEYS,
    epilog=TRAIN_EPILOG,
)  # fmt: skip
