"""The conditioned-generation task as the shared machinery sees it: options, resume rules, evaluate, predict,
info (vector-to-sequence: generate a sequence given its label, e.g. a name given its language).

    unrolled train conditioned --data names/ --conditioning init --hidden 128 --epochs 10
    unrolled train conditioned --data pairs.tsv --tokenizer word     # label<TAB>text lines
    unrolled evaluate RUN [--data PATH] [--json]   # per-token loss: conditioned, unconditioned, labels shuffled
    unrolled predict RUN Arabic --samples 5        # or a file / - (stdin) of labels, one per line
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unrolled.tasks.conditioned.config import ConditionedRunConfig
from unrolled.tasks.conditioned.data import unknown_label
from unrolled.tasks.conditioned.run import (
    generate_for,
    load_run,
    own_split,
    read_split,
    run_info,
    score_split,
    train_in_session,
)
from unrolled.tasks.options import RESUME_KEYS, RESUME_OPTIONS, cells, tokenizers, training_options
from unrolled.tasks.spec import Option, Report, Task

__all__ = ["TASK"]


def _conditionings() -> list[str]:
    from unrolled.models.conditioned import CONDITIONINGS

    return list(CONDITIONINGS)


_D, _M = "data", "model"

TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("--data", "a folder of LABEL.txt files (one sequence per line; the label is the file's stem) or a TSV "
           "file of label<TAB>text lines", "data.path", metavar="PATH", group=_D),
    Option("--valid", "validation folder or file in the same layout (default: --valid-fraction of every label of "
           "--data, seeded)", "data.valid", metavar="PATH", group=_D),
    Option("--valid-fraction", "held-out fraction of every label without --valid (default 0.1)",
           "data.valid_fraction", float, "F", group=_D),
    Option("--tokenizer", "char (default), word or whitespace tokens", "data.tokenizer", choices=tokenizers,
           group=_D),
    Option("--lowercase", "lower-case the texts (default off)", "data.lowercase", switch=True, group=_D),
    Option("--min-freq", "rarer tokens become <unk> (default 1)", "data.min_freq", int, "N", group=_D),
    Option("--max-vocab", "keep at most N tokens (incl. the 4 specials)", "data.max_vocab", int, "N", group=_D),
    Option("--batch-size", "sequences per batch (default 32)", "data.batch_size", int, "B", group=_D),
    Option("--conditioning", "how the label enters the decoder: init (its vector sets h_0, default) or every_step "
           "(fed beside every token)", "model.conditioning", choices=_conditionings, group=_M),
    Option("--cell", "recurrent cell (default lstm): " + ", ".join(cells()), "model.cell", metavar="CELL", group=_M),
    Option("--layers", "stacked recurrent layers (default 1)", "model.layers", int, "N", group=_M),
    Option("--hidden", "hidden units per layer (default 128)", "model.hidden", int, "H", group=_M),
    Option("--embed", "token embedding width (default 32)", "model.embed_dim", int, "E", group=_M),
    Option("--label-dim", "label embedding width (default 16)", "model.label_dim", int, "F", group=_M),
    Option("--dropout", "dropout (default 0)", "model.dropout", float, "P", group=_M),
    *training_options(
        epochs="passes over the data (default 10)",
        lr="learning rate (default 3e-3)",
        optimizer="default adam",
        clip="clip the global gradient norm (default 5)",
        seed="random seed (default 0), also of the held-out split",
    ),
)  # fmt: skip


def evaluate(run_dir: Path, opts: dict[str, Any]) -> Report:
    """Per-token loss and perplexity of the held-out sequences (or ``--data``) given their labels, without them
    (the label mixture with the training prior) and with the labels shuffled."""
    run = load_run(run_dir)
    data = opts.get("data")
    split, where = (read_split(run, str(data)), str(data)) if data is not None else own_split(run)
    m = score_split(run, split)
    lines = [f"{run.run_dir} on {where} ({m['sequences']:,} sequences, {m['tokens']:,} tokens incl. <eos>):"]
    for name, what in (
        ("conditioned", "given its label"),
        ("unconditioned", "without the label: the label mixture with the training prior"),
        ("shuffled", "the held-out labels randomly permuted: expected loss"),
    ):
        lines.append(
            f"  {name:13s} loss {m[f'{name}_loss']:.4f} nats/token, perplexity {m[f'{name}_perplexity']:.3f}: {what}"
        )
    lines.append(
        f"  the label buys {m['label_gain_nats_per_token']:.4f} nats/token; label accuracy from p(label | sequence): "
        f"{m['label_accuracy']:.3f}"
    )
    if run.note:
        lines.insert(0, f"note: {run.note}")
    return Report(m, "\n".join(lines), data=where)


def _labels(run: Any, source: str) -> tuple[list[str], str]:
    """The labels to generate for: INPUT is ``-`` (standard input), a file of labels one per line, or a label."""
    from unrolled.tasks.runs import RunError, read_input

    if source == "-" or Path(source).is_file():
        where = "standard input" if source == "-" else str(source)
        labels = [line.strip() for line in read_input(source).splitlines() if line.strip()]
        if not labels:
            raise RunError(f"{where} has no label; expected one label per line")
        return labels, f"{where} line"
    if source not in run.labels:
        raise unknown_label(source, run.labels, f"INPUT {source!r} is not a file")
    return [source], "label"


def predict(run_dir: Path, opts: dict[str, Any]) -> list[str]:
    """``unrolled predict RUN INPUT``: for each label (INPUT: a label, a file of labels one per line, or ``-``),
    ``--samples`` generated sequences as ``label<TAB>sequence`` lines."""
    from unrolled.tasks.runs import RunError

    if opts.get("input") is None:
        raise RunError("predict needs INPUT: a label, a file of labels (one per line), or - for standard input")
    run = load_run(run_dir)
    labels, where = _labels(run, str(opts["input"]))
    temperature = opts.get("temperature")
    seqs = generate_for(
        run,
        labels,
        samples=1 if opts.get("samples") is None else opts["samples"],
        temperature=0.8 if temperature is None else temperature,
        seed=opts.get("seed") or 0,
        max_tokens=opts.get("max_length"),
        where=where,
    )
    return [f"{label}\t{text}" for label, texts in zip(labels, seqs) for text in texts]


TRAIN_EPILOG = """\
examples:
  unrolled train conditioned --data names/ --epochs 10                   # a name given its language
  unrolled train conditioned --data names/ --conditioning every_step --cell gru --hidden 256
  unrolled train conditioned --data captions.tsv --tokenizer word        # label<TAB>text lines
  unrolled evaluate RUN --json         # conditioned vs unconditioned vs shuffled-label perplexity
  unrolled predict RUN Arabic --samples 5 --temperature 0.8 --seed 1
  printf 'Greek\\nKorean\\n' | unrolled predict RUN - --temperature 0   # greedy

Without --valid, 10% of every label is held out with the run's seed.
"""

TASK = Task(
    name="conditioned",
    summary="generate a sequence given its label (vector-to-sequence: a name given its language)",
    description="Train a recurrent decoder conditioned on a label (a folder of LABEL.txt files or label<TAB>text).",
    config_type=ConditionedRunConfig,
    train=train_in_session,
    evaluate=evaluate,
    predict=predict,
    info=run_info,
    train_options=TRAIN_OPTIONS,
    predict_options=(
        Option("--samples", "sequences per label (default 1)", type=int, metavar="N"),
        Option("--temperature", "sampling temperature, 0 = greedy (default 0.8)", type=float, metavar="T"),
        Option("--seed", "sampling seed (default 0): the same seed gives the same sequences", type=int, metavar="S"),
        Option("--max-length", "tokens per sequence at most (default: the longest training sequence + 10)",
               type=int, metavar="N"),
    ),
    resume_options=RESUME_OPTIONS,
    resume_keys=RESUME_KEYS,
    epilog=TRAIN_EPILOG,
)  # fmt: skip
