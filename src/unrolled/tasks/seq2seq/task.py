"""The seq2seq task as the shared machinery sees it: options, resume rules, evaluate, predict, info, and the
``translate`` command.

    unrolled train seq2seq --data eng-fra.txt --tokenizer word --attention general
    unrolled train seq2seq --builtin dates --attention additive
    unrolled evaluate RUN [--data PAIRS.tsv] [--beam 5] [--json]
    unrolled predict RUN sources.txt [--beam 5]
    unrolled translate RUN "Go." [--beam 5] [--n-best 3] [--show-attention attn.png]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from unrolled.tasks.options import RESUME_KEYS, RESUME_OPTIONS, cells, tokenizers, training_options
from unrolled.tasks.runs import RunError, read_input
from unrolled.tasks.seq2seq.config import Seq2SeqRunConfig
from unrolled.tasks.seq2seq.run import (
    attention_of,
    load_run,
    own_split,
    run_info,
    score_pairs,
    train_in_session,
    translate_texts,
)
from unrolled.tasks.spec import Command, Option, Report, Task

__all__ = ["TASK"]


def _attentions() -> list[str]:
    from unrolled.layers.attention import SCORES

    return [*SCORES, "none"]


def _contexts() -> list[str]:
    from unrolled.models.contexts import CONTEXTS

    return list(CONTEXTS)


def _sampling_schedules() -> list[str]:
    from unrolled.train.teacher_forcing import TEACHER_FORCING_SCHEDULES

    return [s for s in TEACHER_FORCING_SCHEDULES if s != "constant"]


def _builtins() -> list[str]:
    from unrolled.data.synthetic_pairs import SYNTHETIC_TASKS

    return list(SYNTHETIC_TASKS)


_D, _M, _F = "data", "model", "teacher forcing"

TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("--data", "a tab-separated pair file: source<TAB>target per line (Tatoeba format, extra columns ignored)",
           "data.path", metavar="PAIRS.tsv", group=_D),
    Option("--src", "aligned source file, one sentence per line (with --tgt)", "data.src", metavar="FILE", group=_D),
    Option("--tgt", "aligned target file, one sentence per line (with --src)", "data.tgt", metavar="FILE", group=_D),
    Option("--builtin", "a built-in task to learn without data", "data.builtin", choices=_builtins, group=_D),
    Option("--builtin-size", "pairs of the built-in task (default 20000)", "data.builtin_size", int, "N", group=_D),
    Option("--valid", "validation pair file (default: the last 10%% of the pairs)", "data.valid", metavar="FILE",
           group=_D),
    Option("--test", "test pair file, scored by 'unrolled evaluate RUN'", "data.test", metavar="FILE", group=_D),
    Option("--tokenizer", "char (default), word, or whitespace (pre-tokenised text)", "data.tokenizer",
           choices=tokenizers, group=_D),
    Option("--lowercase", "lower-case both sides (default off)", "data.lowercase", switch=True, group=_D),
    Option("--shared-vocab", "one vocabulary for source and target (default: one each)", "data.shared_vocab",
           switch=True, group=_D),
    Option("--max-src-len", "drop training pairs with a longer source (tokens)", "data.max_src_len", int, "N",
           group=_D),
    Option("--max-tgt-len", "drop training pairs with a longer target (tokens)", "data.max_tgt_len", int, "N",
           group=_D),
    Option("--min-freq", "rarer tokens become <unk> (default 1)", "data.min_freq", int, "N", group=_D),
    Option("--batch-size", "pairs per batch (default 64)", "data.batch_size", int, "B", group=_D),
    Option("--cell", "recurrent cell (default lstm): " + ", ".join(cells()), "model.cell", metavar="CELL", group=_M),
    Option("--layers", "encoder layers (default 1)", "model.layers", int, "N", group=_M),
    Option("--hidden", "encoder units per direction (default 128)", "model.hidden", int, "H", group=_M),
    Option("--decoder-hidden", "decoder units (default: the encoder's width)", "model.decoder_hidden", int, "H",
           group=_M),
    Option("--embed", "embedding width (default 64)", "model.embed_dim", int, "E", group=_M),
    Option("--bidirectional", "bidirectional encoder (default on)", "model.bidirectional", switch=True, group=_M),
    Option("--attention", "attention score, or none (default general)", "model.attention", choices=_attentions,
           group=_M),
    Option("--context", "how the decoder sees the source: init (C as initial state), every_step (C as input) or "
           "attention (default; 'init' when --attention none)", "model.context", choices=_contexts, group=_M),
    Option("--dropout", "dropout (default 0.1)", "model.dropout", float, "P", group=_M),
    Option("--teacher-forcing", "probability of feeding the reference token (default 1.0; 0 = free running)",
           "teacher.probability", float, "P", group=_F),
    Option("--schedule-sampling", "scheduled sampling: decay the probability per epoch (Bengio et al. 2015)",
           "teacher.schedule", choices=_sampling_schedules, group=_F),
    Option("--label-smoothing", "label smoothing of the cross-entropy (default 0)", "teacher.label_smoothing", float,
           "EPS", group=_F),
    *training_options(
        epochs="passes over the data (default 10)",
        lr="learning rate (default 2e-3)",
        optimizer="default adam",
        schedule="learning-rate schedule (default constant; --schedule-sampling is teacher forcing's)",
        clip="clip the global gradient norm (default 5)",
        seed="random seed (default 0), also of the built-in pairs",
    ),
)  # fmt: skip


def prepare(raw: dict[str, Any], explicit: set[str], given: dict[str, Any]) -> None:
    """``--attention none`` without ``--context`` means C as the initial state."""
    model = raw.setdefault("model", {})
    if model.get("attention") == "none" and "model.context" not in explicit and model.get("context") == "attention":
        model["context"] = "init"


def _beam(opts: dict[str, Any]) -> int:
    beam = opts.get("beam") or 1
    if beam < 1:
        raise RunError(f"--beam must be >= 1, got {beam}")
    return beam


def evaluate(run_dir: Path, opts: dict[str, Any]) -> Report:
    """BLEU, chrF (sacrebleu) and exact match on ``--data`` (a pair file) or the run's test / validation split."""
    from unrolled.tasks.seq2seq.data import _read

    run = load_run(run_dir)
    data = opts.get("data")
    pairs, where = (_read(str(data)), str(data)) if data is not None else own_split(run)
    beam = _beam(opts)
    scores = score_pairs(run, pairs, beam=beam)
    metrics = {**scores, "pairs": len(pairs), "beam": beam}
    text = (
        f"{run.run_dir} on {where} ({len(pairs):,} pairs, beam {beam}): BLEU {scores['bleu']:.2f}, "
        f"chrF {scores['chrf']:.2f}, exact match {100 * scores['exact_match']:.2f}%"
    )
    if run.note:
        text = f"note: {run.note}\n{text}"
    return Report(metrics, text, data=where)


def _texts(source: str | None) -> list[str]:
    texts = [line.strip() for line in read_input(source).splitlines() if line.strip()]
    if not texts:
        raise RunError(f"{source or 'standard input'} has no text; expected one sentence per line")
    return texts


def predict(run_dir: Path, opts: dict[str, Any]) -> list[str]:
    """``unrolled predict RUN INPUT``: the translation of every non-empty line of INPUT (``-``: standard input)."""
    if opts.get("input") is None:
        raise RunError("predict needs INPUT: a file of sentences, one per line, or - for standard input")
    run = load_run(run_dir)
    hyps = translate_texts(run, _texts(opts["input"]), beam=_beam(opts))
    return [run.codec.decode_tgt(h[0].tokens) for h in hyps]


def translate(opts: dict[str, Any]) -> int:
    """``unrolled translate RUN [TEXT]``: translate TEXT (or every line of standard input); with ``--n-best N``
    the N best hypotheses with their scores; ``--show-attention out.png`` draws where the decoder looked."""
    run = load_run(opts["run"])
    texts = [opts["text"]] if opts.get("text") else _texts("-")
    beam, n_best = _beam(opts), opts.get("n_best") or 1
    if n_best > beam:
        raise RunError(f"--n-best {n_best} needs --beam of at least {n_best}")
    hyps = translate_texts(run, texts, beam=beam, n_best=n_best, length_penalty=opts.get("length_penalty") or 0.0)
    png = opts.get("show_attention")
    for i, (text, hs) in enumerate(zip(texts, hyps)):
        if n_best == 1:
            print(run.codec.decode_tgt(hs[0].tokens))
        else:
            for h in hs:
                print(f"{h.score:.4f}\t{run.codec.decode_tgt(h.tokens)}")
        if png:
            from unrolled.viz.attention import plot_attention

            out = Path(png) if len(texts) == 1 else Path(png).with_name(f"{Path(png).stem}-{i + 1}{Path(png).suffix}")
            weights = attention_of(run, text, hs[0])  # (T, S)
            source = run.codec.tokens(text)
            target = [*run.codec.tgt_vocab.decode(hs[0].tokens), "<eos>"][: weights.shape[0]]
            plot_attention(weights, source, target, out, title=text[:60])
            print(f"attention: {out}", file=sys.stderr)
    return 0


TRANSLATE = Command(
    name="translate",
    help="translate text with a seq2seq run (beam search, n-best, attention heatmap)",
    description="Translate TEXT, or every line of standard input, with a trained seq2seq run.",
    run=translate,
    options=(
        Option("run", "a seq2seq run folder", metavar="RUN"),
        Option("text", "the text (default: read standard input, one sentence a line)", metavar="TEXT", nargs="?"),
        Option("--beam", "beam size (default 1: greedy)", type=int, metavar="K", default=1),
        Option("--n-best", "print the N best hypotheses with their scores (N <= beam)", type=int, metavar="N",
               default=1),
        Option("--length-penalty", "GNMT length penalty alpha (default 0)", type=float, metavar="ALPHA", default=0.0),
        Option("--show-attention", "write the attention heatmap to this PNG", metavar="PNG"),
    ),
)  # fmt: skip

TRAIN_EPILOG = """\
examples:
  unrolled train seq2seq --builtin dates                        # human dates -> ISO 8601, no data needed
  unrolled train seq2seq --data eng-fra.txt --tokenizer word --lowercase --attention additive
  unrolled train seq2seq --src train.de --tgt train.en --tokenizer whitespace --valid valid.tsv
  unrolled train seq2seq --builtin reverse --attention none --context every_step
  unrolled train seq2seq --builtin sort --schedule-sampling inverse_sigmoid --label-smoothing 0.1
  unrolled evaluate RUN --beam 5 --json
  unrolled translate RUN "3 March 1987" --beam 5 --n-best 3 --show-attention attn.png
"""

TASK = Task(
    name="seq2seq",
    summary="sequence to sequence: translation, date normalisation (encoder-decoder with attention)",
    description="Train an encoder-decoder on sentence pairs (a TSV pair file, two aligned files, or a built-in task).",
    config_type=Seq2SeqRunConfig,
    train=train_in_session,
    evaluate=evaluate,
    predict=predict,
    info=run_info,
    train_options=TRAIN_OPTIONS,
    evaluate_options=(Option("--beam", "beam size (default 1: greedy)", type=int, metavar="K", default=1),),
    predict_options=(Option("--beam", "beam size (default 1: greedy)", type=int, metavar="K", default=1),),
    resume_options=RESUME_OPTIONS,
    resume_keys=RESUME_KEYS,
    commands=(TRANSLATE,),
    prepare=prepare,
    epilog=TRAIN_EPILOG,
)  # fmt: skip
