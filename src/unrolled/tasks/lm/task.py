"""The language-modeling task as the shared machinery sees it: options, resume rules, evaluate, predict, info,
and the ``generate`` command.

The worked example for every other task: the options are data (:class:`~unrolled.tasks.spec.Option`), the
training runs in a :class:`~unrolled.tasks.session.RunSession`, and the commands return what to print.
"""

from __future__ import annotations

import math
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

from unrolled.tasks.lm.codec import EOS_MODES
from unrolled.tasks.lm.config import LMRunConfig, build_run_config, default_raw_config
from unrolled.tasks.lm.families import FAMILIES
from unrolled.tasks.lm.run import (
    generate_text,
    latest_run,
    load_run,
    run_info,
    score_ids,
    train_in_session,
)
from unrolled.tasks.options import RESUME_KEYS as COMMON_RESUME_KEYS
from unrolled.tasks.options import RESUME_OPTIONS as COMMON_RESUME_OPTIONS
from unrolled.tasks.options import cells, tokenizers, training_options
from unrolled.tasks.spec import Command, Option, Report, Task

__all__ = ["BUILTIN_BUDGET_S", "BUILTIN_EPOCHS", "BUILTIN_SAMPLE_EVERY", "TASK"]

#: wall-clock budget of ``unrolled train lm`` on the built-in corpus when no time limit is given (the README's
#: first command must finish within 3 minutes on 2 CPU cores, corpus preparation and validation included)
BUILTIN_BUDGET_S = 150.0
#: on the built-in corpus a sample is printed every this many steps unless sample.every is given
BUILTIN_SAMPLE_EVERY = 100
#: epochs on the built-in corpus unless train.epochs is given: more than a session's budget covers (about 3 epochs
#: in 150 s on 2 cores), so the budget ends each session and a plain ``--resume`` trains another budget's worth
BUILTIN_EPOCHS = 20


def _smoothings() -> list[str]:
    from unrolled.models.ngram import SMOOTHINGS

    return list(SMOOTHINGS)


_D, _M, _T = "data", "model", "training"


def comma_separated_integers(text: str) -> tuple[int, ...]:
    """``"2000,6000"`` -> ``(2000, 6000)`` (``--cutoffs``)."""
    return tuple(int(part) for part in text.split(","))


#: the options of ``unrolled train lm`` (each sets one config key)
TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("--data", "UTF-8 text file or folder of .txt files (default: built-in)", "data.path", metavar="PATH",
           group=_D),
    Option("--tokenizer", "tokenize into characters (default), words, or whitespace-separated tokens of a "
           "pre-tokenized corpus (PTB, WikiText)", "data.tokenizer", choices=tokenizers, group=_D),
    Option("--unk-token", "the corpus's own unknown-word token, read as <unk> (e.g. <unk>, UNK)", "data.unk_token",
           metavar="TOKEN", group=_D),
    Option("--valid", "validation file (default: the last --valid-fraction of the training text)", "data.valid",
           metavar="FILE", group=_D),
    Option("--test", "test file: scored once at the end with the best weights (RUN/test.json); what evaluate "
           "scores without --data", "data.test", metavar="FILE", group=_D),
    Option("--lowercase", "lower-case the text first (default off)", "data.lowercase", switch=True, group=_D),
    Option("--strip-punctuation", "remove punctuation (default off)", "data.strip_punctuation", switch=True, group=_D),
    Option("--strip-numbers", "remove digits and numerals (default off)", "data.strip_numbers", switch=True, group=_D),
    Option("--strip-special", "remove symbols and control characters (default off)", "data.strip_special",
           switch=True, group=_D),
    Option("--stop-words", "drop stop words (word tokenizer): the built-in English list or a file of one word per "
           "line", "data.stop_words", metavar="english|FILE", group=_D),
    Option("--eos", "where <eos> goes: at each line end (default for words), document end, or none (default for "
           "chars)", "data.eos", choices=list(EOS_MODES), group=_D),
    Option("--min-freq", "rarer tokens become <unk> (default 1)", "data.min_freq", int, "N", group=_D),
    Option("--max-vocab", "keep at most N tokens (incl. the 4 specials)", "data.max_vocab", int, "N", group=_D),
    Option("--batch-size", "rows of the training stream (default 32)", "data.batch_size", int, "B", group=_D),
    Option("--bptt", "steps per truncated-BPTT chunk (default 100); 0 = full BPTT: each row in one piece",
           "data.bptt", int, "K1", group=_D),
    Option("--k2", "steps back-propagated per update, >= bptt (default = bptt)", "data.k2", int, "K2", group=_D),
    Option("--variable-bptt", "random chunk lengths around --bptt (Merity et al. 2018; default off)",
           "data.variable_bptt", switch=True, group=_D),
    Option("--model", "model family (default rnn): " + "; ".join(f"{f.name}: {f.summary}" for f in FAMILIES.values()),
           "model.family", choices=list(FAMILIES), group=_M),
    Option("--cell", "recurrent cell (default lstm): " + ", ".join(cells()), "model.cell", metavar="CELL", group=_M),
    Option("--layers", "stacked recurrent layers (default 2)", "model.layers", int, "N", group=_M),
    Option("--hidden", "hidden units per layer (default 256)", "model.hidden", int, "H", group=_M),
    Option("--embed", "embedding width (default 64)", "model.embed_dim", int, "E", group=_M),
    Option("--dropout", "dropout (default 0.1)", "model.dropout", float, "P", group=_M),
    Option("--tie", "tie embedding and softmax weights (default off)", "model.tie_weights", switch=True, group=_M),
    Option("--recurrent-dropout", "variational dropout on h", "model.recurrent_dropout", float, "P", group=_M),
    Option("--zoneout", "zoneout probability", "model.zoneout", float, "P", group=_M),
    Option("--init", "initialisation: default, uniform:A (every parameter, Zaremba et al. 2014), orthogonal, "
           "identity, chrono:T", "model.init", metavar="NAME", group=_M),
    Option("--last-hidden", "units of the last layer (AWD-LSTM: the embedding width, with --tie)",
           "model.last_hidden", int, "H", group=_M),
    Option("--weight-drop", "DropConnect on hidden-to-hidden weights, one mask per batch (AWD-LSTM)",
           "model.weight_drop", float, "P", group=_M),
    Option("--embed-dropout", "drop whole words from the embedding (AWD-LSTM)", "model.embed_dropout", float, "P",
           group=_M),
    Option("--locked-dropout", "dropout masks shared over time steps (variational; AWD-LSTM)",
           "model.locked_dropout", switch=True, group=_M),
    Option("--input-dropout", "dropout on the embeddings (default --dropout)", "model.input_dropout", float, "P",
           group=_M),
    Option("--output-dropout", "dropout before the softmax (default --dropout)", "model.output_dropout", float,
           "P", group=_M),
    Option("--softmax", "output layer: full (default) or adaptive (Grave et al. 2017: a head over the frequent "
           "words, smaller tail clusters for the rare ones; not with --tie)", "model.softmax",
           choices=["full", "adaptive"], group=_M),
    Option("--cutoffs", "adaptive softmax: cluster boundaries, increasing ids below V (default V//5,V//2)",
           "model.cutoffs", comma_separated_integers, "C1,C2,...", group=_M),
    Option("--div-value", "adaptive softmax: tail cluster i projects to hidden / D**i units (default 4)",
           "model.div_value", float, "D", group=_M),
    Option("--ar", "activation regularisation alpha (AWD-LSTM: 2)", "model.ar", float, "ALPHA", group=_M),
    Option("--tar", "temporal activation regularisation beta (AWD-LSTM: 1)", "model.tar", float, "BETA",
           group=_M),
    Option("--context", "fixed-window model: tokens of context (default 8)", "model.context", int, "N", group=_M),
    Option("--order", "n-gram model: order n (default 5)", "model.order", int, "N", group=_M),
    Option("--smoothing", "n-gram smoothing (default kneser_ney)", "model.smoothing", choices=_smoothings, group=_M),
    *training_options(
        epochs=f"passes over the data (default 3; {BUILTIN_EPOCHS} on the built-in corpus)",
        max_time=f"stop (with a checkpoint) after this long in this session (default: none; {BUILTIN_BUDGET_S:g} s "
        "on the built-in corpus)",
        lr="learning rate (default 2e-3)",
        optimizer="default adam",
        schedule="default plateau",
        clip="clip the global gradient norm (default 1.0)",
    ),
    Option("--nonmono", "NT-ASGD (--optimizer ntasgd): start averaging when the validation loss is above the best "
           "of all but the last N validations (default 5, Merity et al. 2018)", "train.nonmono", int, "N", group=_T),
    Option("--sample-every", f"print a sample every N steps (default: after each validation; "
           f"{BUILTIN_SAMPLE_EVERY} on the built-in corpus)", "sample.every", int, "STEPS", group=_T),
    Option("--sample-length", "tokens per printed sample (default 200)", "sample.length", int, "N", group=_T),
    Option("--sample-temperature", "temperature of the samples (default 0.8)", "sample.temperature", float, "T",
           group=_T),
)  # fmt: skip

#: options accepted with --resume: they extend the schedule or change what is printed, never the model or the data
#: (``--data`` may point at the same text if it moved: its sha256 is checked)
RESUME_OPTIONS = (*COMMON_RESUME_OPTIONS, "sample_every", "sample_length", "sample_temperature")
#: --set keys accepted with --resume (a section name alone allows all its keys)
RESUME_KEYS = (*COMMON_RESUME_KEYS, "sample")
#: data / sample keys that only a family that trains uses
TRAINING_DATA_KEYS = ("data.batch_size", "data.bptt", "data.k2", "sample.every")


def _check_family_options(family_name: str, given: dict[str, Any]) -> None:
    """Refuse options that the chosen model family does not use (one line naming them)."""
    from unrolled.config_io import ConfigError

    family = FAMILIES.get(family_name)
    if family is None:
        return  # the config check names the bad family
    bad = []
    for option in TRAIN_OPTIONS:
        if option.dest not in given:
            continue
        section, _, name = option.key.partition(".")
        if section == "model" and name != "family" and name not in family.keys:
            bad.append(option.flag)
        elif not family.trains and (section == "train" or option.key in TRAINING_DATA_KEYS):
            bad.append(option.flag)
    if bad:
        what = "is fitted from counts and does not train" if not family.trains else "does not use them"
        verb = "does" if len(bad) == 1 else "do"
        raise ConfigError(f"{', '.join(bad)} {verb} not apply to --model {family_name} (it {what})")


def prepare(raw: dict[str, Any], explicit: set[str], given: dict[str, Any]) -> None:
    """The LM's own rules on a raw config: options of another family are refused; the built-in corpus (the
    README's first command) gets its time budget, samples and epochs unless they were set."""
    family = raw.get("model", {}).get("family") if isinstance(raw.get("model"), dict) else None
    if isinstance(family, str):
        _check_family_options(family, given)
    data = raw.get("data")
    if isinstance(data, dict) and data.get("path") is None and isinstance(raw.get("train"), dict):
        defaults = {"train.max_time": BUILTIN_BUDGET_S, "sample.every": BUILTIN_SAMPLE_EVERY}
        defaults["train.epochs"] = BUILTIN_EPOCHS
        for key, value in defaults.items():
            section, _, name = key.partition(".")
            if key not in explicit and isinstance(raw.get(section), dict):
                raw[section][name] = value


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _warn(message: str) -> None:
    print(f"unrolled: warning: {message}", file=sys.stderr)


#: how ``evaluate`` counts tokens (as Mikolov et al. 2010, Zaremba et al. 2014 and Merity et al. 2018 do)
COUNTING = (
    "tokens = every word and each line's <eos> of the scored text, <unk> included as an ordinary token; the first "
    "token of each of the B rows is context only, so B fewer are predicted (B = --batch-size, 1 by default: the "
    "papers' count minus one)"
)


def evaluate(run_dir: Path, opts: dict[str, Any]) -> Report:
    """Loss, perplexity and bits per token of a run on ``--data`` (or on its own test split, or else its validation
    split), with the unigram and n-gram baselines on the same token stream when the training text is at hand."""
    from unrolled.data.readers import read_documents
    from unrolled.tasks.lm.corpus import prepare_corpus

    run = load_run(run_dir)
    if run.note:
        _warn(run.note)
    batch_size = opts.get("batch_size") or 1
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    unit = run.codec.unit
    data = opts.get("data")
    corpus = None
    if data is None or opts.get("baselines", True) is not False:
        try:  # the training text: the run's own splits, and what the baselines are fitted on
            corpus = prepare_corpus(run.config.data)
        except (OSError, ValueError) as e:
            if data is None:
                raise
            _warn(f"no baselines: the training text of {run_dir} cannot be read ({e})")
        if corpus is not None and corpus.codec.vocab != run.codec.vocab:
            if data is None:
                raise ValueError(
                    f"{run_dir}: its text no longer gives its vocabulary; pass --data PATH to score a text"
                )
            _warn(f"no baselines: the training text of {run_dir} no longer gives its vocabulary")
            corpus = None
    unk = run.codec.vocab.unk_id if "<unk>" in run.codec.vocab.specials else None
    if data is not None:
        ids = run.codec.encode_documents(read_documents(data))
        if ids.numel() < 2 * batch_size:
            raise ValueError(f"the evaluation text has {ids.numel()} tokens; expected at least {2 * batch_size}")
        where = str(data)
    elif corpus.test_ids is not None:  # the run's own test split (its sha256 is checked against the run's)
        ids, where = corpus.test_ids, f"test split {run.config.data.test}"
    else:  # the run's own validation split, from the text it was trained on
        ids, where = corpus.valid_ids, "validation split"
    unknown = int((ids == unk).sum()) if unk is not None else 0
    total, tokens = score_ids(run, ids, batch_size)
    loss = total / tokens
    from unrolled.train.metrics import bits, perplexity

    ppl = perplexity(loss)
    metrics: dict[str, Any] = {
        "tokens": tokens,
        "unknown_tokens": unknown,
        "loss_nats": loss,
        "perplexity": _json_number(ppl),
        unit.bits_key: bits(loss),
        "counting": COUNTING,
    }
    text = (
        f"{run.run_dir} on {where}: {tokens:,} tokens scored ({unknown:,} <unk>), loss {loss:.4f} nats/token, "
        f"perplexity {ppl:.3f}, {bits(loss):.4f} {unit.bits_label}\n  ({COUNTING})"
    )
    if corpus is not None and opts.get("baselines", True) is not False:
        order = opts.get("baseline_order") or 5
        base = baselines(corpus.train_ids, len(run.codec.vocab), run.codec.vocab.unk_id, ids, batch_size, order)
        metrics["baselines"] = {k: {"loss_nats": v, "perplexity": _json_number(perplexity(v))} for k, v in base.items()}
        for name, value in base.items():
            text += f"\n  baseline {name} on the same {tokens:,} tokens: perplexity {perplexity(value):.3f}"
        text += f" (the model is {ppl / perplexity(min(base.values())):.3f}x the best baseline's perplexity)"
    return Report(metrics, text, data=where)


def baselines(train_ids: Any, vocab_size: int, unk_id: int, ids: Any, batch_size: int, order: int) -> dict[str, float]:
    """Mean nats per token of two count models fitted on ``train_ids`` and scored on exactly the tokens a recurrent
    model scores on ``ids`` cut into ``batch_size`` rows: an add-one unigram and an interpolated Kneser-Ney
    ``order``-gram (the ``ngram`` family)."""
    from unrolled.data.stream import batchify
    from unrolled.models.ngram import NGramLM

    rows = batchify(ids, batch_size).tolist()
    train = [train_ids.tolist()]
    out = {}
    for name, model in (
        ("unigram (add-one)", NGramLM(1, vocab_size=vocab_size, smoothing="add_k", k=1.0, unk_id=unk_id)),
        (f"{order}-gram (Kneser-Ney)", NGramLM(order, vocab_size=vocab_size, smoothing="kneser_ney", unk_id=unk_id)),
    ):
        total, count = model.fit(train).score(rows, skip=1)
        out[name] = total / count
    return out


def predict(run_dir: Path, opts: dict[str, Any]) -> list[str]:
    """``unrolled predict RUN [INPUT]``: a continuation of each line of INPUT (or one sample without INPUT)."""
    from unrolled.tasks.runs import read_input

    run = load_run(run_dir)
    if run.note:
        _warn(run.note)
    length = opts.get("length")
    changes = {"length": length} if length is not None else {}
    if opts.get("input") is None:
        return [generate_text(run, replace(run.config.sample, **changes))]
    lines = read_input(opts["input"]).splitlines()
    return [generate_text(run, replace(run.config.sample, prime=line, **changes)) for line in lines]


def info(run_dir: Path, raw: Any) -> dict[str, Any]:
    out = run_info(run_dir)
    corpus = out.get("corpus") or {}
    tokens = corpus.get("tokens")
    size = f"{tokens:,} " if isinstance(tokens, int) else ""
    out["data_summary"] = (
        f"{corpus.get('kind')} {corpus.get('path', '')} ({size}{out['data']['tokenizer']} tokens, vocabulary "
        f"{out['vocab_size']})"
    )
    return out


def generate(opts: dict[str, Any]) -> int:
    """``unrolled generate [RUN]``: sample text from a run (the most recent one under ./runs by default)."""
    run_dir = Path(opts["run"]) if opts.get("run") else latest_run()
    run = load_run(run_dir, which="last" if opts.get("last") else "best")
    if run.note:
        _warn(run.note)
    names = ("prime", "length", "temperature", "top_k", "top_p", "seed", "stop_at_eos")
    changes = {k: opts[k] for k in names if opts.get(k) is not None}
    sample = replace(run.config.sample, **changes)  # checked again: a bad --top-p is a one-line error
    unknown = run.codec.unknown(sample.prime)
    if unknown:
        kind = "characters" if run.codec.tokenizer_name == "char" else "words"
        _warn(
            f"the prime has {kind} that {run_dir} never saw, read as <unk>: "
            f"{', '.join(repr(t) for t in unknown[:20])}{' ...' if len(unknown) > 20 else ''}"
        )
    print(generate_text(run, sample))
    return 0


GENERATE_EPILOG = """\
examples:
  unrolled generate                                   # from the most recent run under ./runs
  unrolled generate runs/lm-20261123-101500 --prime "def " --length 400 --temperature 0.7
  unrolled generate RUN --top-p 0.9 --seed 3
  unrolled generate RUN --temperature 0                 # greedy
  unrolled generate RUN --stop-at-eos                   # one line / sentence
the prime is printed as given; characters (or words) it has that the run's vocabulary lacks are named in a
warning and read as <unk>. <pad>, <bos> and <unk> are never generated.
"""

GENERATE = Command(
    name="generate",
    help="generate text from a trained language model",
    description="Sample text from a trained language-model run.",
    epilog=GENERATE_EPILOG,
    run=generate,
    options=(
        Option("run", "run folder (default: the most recent under ./runs)", metavar="RUN", nargs="?"),
        Option("--prime", "text to start from (default: a new line)", metavar="TEXT"),
        Option("--length", "tokens to generate (default 200)", type=int, metavar="N"),
        Option("--temperature", "0 = greedy (default 0.8)", type=float, metavar="T"),
        Option("--top-k", "sample among the K most likely tokens", type=int, metavar="K"),
        Option("--top-p", "nucleus sampling mass in (0, 1]", type=float, metavar="P"),
        Option("--seed", "sampling seed (default 0)", type=int),
        Option("--stop-at-eos", "stop at the first <eos> (a newline for char runs without <eos>); default: generate "
               "--length tokens", switch=True),
        Option("--last", "use the latest checkpoint instead of the best weights", store_true=True),
    ),
)  # fmt: skip


def _resume_help() -> str:
    flags = ", ".join("--" + d.replace("_", "-") for d in (*RESUME_OPTIONS, "data", "no_progress"))
    keys = ", ".join(k if "." in k else k + ".*" for k in RESUME_KEYS)
    return textwrap.fill(
        f"--resume RUN continues with RUN's saved configuration; it accepts only flags that extend the schedule or "
        f"change what is printed: {flags}, and --set on {keys}. --max-time is a budget per session: a run stopped by "
        "it trains that long again when resumed. The text must be the one the run started with (same sha256); "
        "--data PATH points at it if it moved.",
        width=116,
    )


TRAIN_EPILOG = """\
examples:
  unrolled train lm                                   # built-in corpus (Python stdlib source), char LSTM, 150 s
  unrolled train lm --resume runs/lm-20261123-101500  # ... another 150 s (the budget is per session)
  unrolled train lm --data input.txt --layers 2 --hidden 512 --epochs 20
  unrolled train lm --data corpus/ --tokenizer word --cell gru --tie --bptt 35 --stop-words english
  unrolled train lm --data input.txt --bptt 0 --batch-size 8                # full BPTT over each whole row
  unrolled train lm --data input.txt --model ngram --order 5          # Kneser-Ney baseline
  unrolled train lm --data input.txt --model fixed_window --context 8  # Bengio et al. 2003 baseline
  unrolled train lm --config configs/lm_word_zaremba_small.yaml --data ptb.train.txt --valid ptb.valid.txt \\
      --test ptb.test.txt                                          # Zaremba et al. 2014, small
  unrolled train lm --config configs/lm_word_awd.yaml --data ptb.train.txt --valid ptb.valid.txt --test ptb.test.txt
  unrolled train lm --config configs/lm_shakespeare.toml --set train.lr=1e-3 --set model.dropout=0.3
  unrolled train lm --resume runs/lm-20261123-101500                   # continue exactly where it stopped
  unrolled train lm --resume runs/lm-20261123-101500 --epochs 10       # ... and train for longer

precedence: built-in defaults < --config file < flags < --set overrides. The resolved configuration is saved
as RUN/config.json. A new run needs a new or empty --run-dir. Ctrl-C (or an error) saves a checkpoint.

{resume}

model flags apply to their family only: rnn uses --cell --layers --hidden --embed --dropout --tie
--recurrent-dropout --zoneout --init and the AWD-LSTM flags; fixed_window uses --context --embed --hidden
--dropout; ngram uses --order --smoothing and does not train (no training flags).
"""

TASK = Task(
    name="lm",
    summary="train a language model (recurrent, fixed-window or n-gram) on a text",
    description="Train a language model on a UTF-8 text file or folder (default: a built-in corpus).",
    config_type=LMRunConfig,
    train=train_in_session,
    evaluate=evaluate,
    predict=predict,
    info=info,
    train_options=TRAIN_OPTIONS,
    evaluate_options=(
        Option("--batch-size", "parallel streams (default 1)", type=int, metavar="B", default=1),
        Option("--baselines", "also score a unigram and a Kneser-Ney n-gram fitted on the run's training text on the "
               "same tokens (default on)", switch=True),
        Option("--baseline-order", "n of the n-gram baseline (default 5)", type=int, metavar="N"),
    ),
    predict_options=(Option("--length", "tokens to generate per line (default: the run's sample.length)", type=int,
                            metavar="N"),),
    resume_options=(*RESUME_OPTIONS, "data"),
    resume_keys=RESUME_KEYS,
    commands=(GENERATE,),
    prepare=prepare,
    build_config=build_run_config,
    default_raw=default_raw_config,
    epilog=TRAIN_EPILOG.format(resume=_resume_help()),
)  # fmt: skip
