"""The ``unrolled`` command. The only module that parses a command line.

unrolled train lm [--data PATH] [--tokenizer char|word] [--cell lstm] [--layers N] [--hidden H] ...
unrolled generate [RUN] [--prime TEXT] [--temperature T] [--top-k K] [--top-p P] [--length N]
unrolled evaluate RUN --data PATH
unrolled info RUN
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unrolled import __version__

PROG = "unrolled"

#: environment variable that makes every error show its traceback (as ``unrolled --debug``)
DEBUG_ENV = "UNROLLED_DEBUG"

MAIN_EPILOG = f"""\
examples:
  unrolled train lm                                   # built-in corpus, char LSTM, samples as it trains, ~3 min
  unrolled generate --length 300                      # sample from the most recent run under ./runs
  unrolled train lm --data input.txt --epochs 20      # your own UTF-8 text (a file or a folder of .txt)
  unrolled evaluate RUN --data valid.txt              # loss, perplexity, bits per character / word
  unrolled info RUN
  unrolled train lm --help                            # every training option and --set key

errors are one line; 'unrolled --debug COMMAND ...' or {DEBUG_ENV}=1 shows the full traceback instead.
"""

TRAIN_EPILOG = """\
examples:
  unrolled train lm                                   # built-in corpus (Python stdlib source), char LSTM, ~3 min
  unrolled train lm --data input.txt --layers 2 --hidden 512 --epochs 20
  unrolled train lm --resume runs/lm-20261123-101500  # continue a stopped run
see 'unrolled train lm --help' for the options.
"""

TRAIN_LM_EPILOG = """\
examples:
  unrolled train lm                                   # built-in corpus (Python stdlib source), char LSTM, 150 s
  unrolled train lm --resume runs/lm-20261123-101500  # ... another 150 s (the budget is per session)
  unrolled train lm --data input.txt --layers 2 --hidden 512 --epochs 20
  unrolled train lm --data corpus/ --tokenizer word --cell gru --tie --bptt 35 --stop-words english
  unrolled train lm --data input.txt --bptt 0 --batch-size 8                # full BPTT over each whole row
  unrolled train lm --data input.txt --model ngram --order 5          # Kneser-Ney baseline
  unrolled train lm --data input.txt --model fixed_window --context 8  # Bengio et al. 2003 baseline
  unrolled train lm --config configs/lm_shakespeare.toml --set train.lr=1e-3 --set model.dropout=0.3
  unrolled train lm --resume runs/lm-20261123-101500                   # continue exactly where it stopped
  unrolled train lm --resume runs/lm-20261123-101500 --epochs 10       # ... and train for longer

precedence: built-in defaults < --config file < flags < --set overrides. The resolved configuration is saved
as RUN/config.json. A new run needs a new or empty --run-dir. Ctrl-C (or an error) saves a checkpoint.

{resume}

model flags apply to their family only: rnn uses --cell --layers --hidden --embed --dropout --tie
--recurrent-dropout --zoneout; fixed_window uses --context --embed --hidden --dropout; ngram uses --order
--smoothing and does not train (no training flags).

settings (--set SECTION.KEY=VALUE, or the same keys in a --config file; "name=default"):
{settings}
"""

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

EVALUATE_EPILOG = """\
examples:
  unrolled evaluate runs/lm-20261123-101500 --data valid.txt
  unrolled evaluate RUN --data valid.txt --json
reports the tokens scored (the text cut into --batch-size rows, the first token of each row context only: the
same tokens for every model family), mean loss in nats per token, perplexity = exp(loss), and bits per character
(char runs) or per word = loss / ln 2.
"""

INFO_EPILOG = """\
examples:
  unrolled info runs/lm-20261123-101500
  unrolled info RUN --json
"""

# flag dest -> dotted config key (flags left at None are not applied)
TRAIN_FLAGS: dict[str, str] = {
    "data": "data.path",
    "tokenizer": "data.tokenizer",
    "lowercase": "data.lowercase",
    "strip_punctuation": "data.strip_punctuation",
    "strip_numbers": "data.strip_numbers",
    "strip_special": "data.strip_special",
    "stop_words": "data.stop_words",
    "eos": "data.eos",
    "min_freq": "data.min_freq",
    "max_vocab": "data.max_vocab",
    "batch_size": "data.batch_size",
    "bptt": "data.bptt",
    "k2": "data.k2",
    "model": "model.family",
    "cell": "model.cell",
    "layers": "model.layers",
    "hidden": "model.hidden",
    "embed": "model.embed_dim",
    "dropout": "model.dropout",
    "tie": "model.tie_weights",
    "recurrent_dropout": "model.recurrent_dropout",
    "zoneout": "model.zoneout",
    "context": "model.context",
    "order": "model.order",
    "smoothing": "model.smoothing",
    "epochs": "train.epochs",
    "max_steps": "train.max_steps",
    "max_time": "train.max_time",
    "lr": "train.lr",
    "optimizer": "train.optimizer",
    "schedule": "train.schedule",
    "clip": "train.clip_norm",
    "clip_value": "train.clip_value",
    "l1": "train.l1",
    "l2": "train.l2",
    "patience": "train.early_stopping_patience",
    "eval_every": "train.eval_every",
    "metrics_format": "train.metrics_format",
    "tensorboard": "train.tensorboard",
    "seed": "train.seed",
    "device": "train.device",
    "sample_every": "sample.every",
    "sample_length": "sample.length",
    "sample_temperature": "sample.temperature",
}

#: flags accepted with --resume: they extend the schedule or change what is printed, never the model or the data
RESUME_FLAGS = ("epochs", "max_steps", "max_time", "device", "sample_every", "sample_length", "sample_temperature")
#: --set keys accepted with --resume (a section name alone allows all its keys)
RESUME_KEYS = (
    "train.epochs",
    "train.max_steps",
    "train.max_time",
    "train.device",
    "train.progress",
    "train.plot",
    "train.log_every",
    "sample",
)
#: data / sample keys that only a family that trains uses
TRAINING_DATA_KEYS = ("data.batch_size", "data.bptt", "data.k2", "sample.every")

#: wall-clock budget of ``unrolled train lm`` on the built-in corpus when no time limit is given (the README's
#: first command must finish within 3 minutes on 2 CPU cores, corpus preparation and validation included)
BUILTIN_BUDGET_S = 150.0
#: on the built-in corpus a sample is printed every this many steps unless sample.every is given
BUILTIN_SAMPLE_EVERY = 100
#: epochs on the built-in corpus unless train.epochs is given: more than a session's budget covers (about 3 epochs
#: in 150 s on 2 cores), so the budget ends each session and a plain ``--resume`` trains another budget's worth
BUILTIN_EPOCHS = 20


class CLIError(Exception):
    """A user error found by the CLI itself."""


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``unrolled train lm: error: ... (see --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _settings_help() -> str:
    """Every --set key with its default, generated from the config dataclasses."""
    from unrolled.tasks.lm import LMRunConfig
    from unrolled.tasks.lm.config import TOKENIZER_DEPENDENT

    cfg = LMRunConfig()
    dependent = {f"{s}.{k}" for s, k in TOKENIZER_DEPENDENT}
    lines = []
    for section in dataclasses.fields(cfg):
        obj = getattr(cfg, section.name)
        items = []
        for f in dataclasses.fields(obj):
            if not f.init:
                continue
            value = json.dumps(_jsonable(getattr(obj, f.name)), separators=(",", ":"))
            if f"{section.name}.{f.name}" in dependent:
                value = "auto"
            items.append(f"{f.name}={value}")
        lines.append(
            textwrap.fill(
                " ".join(items), width=116, initial_indent=f"  {section.name + ':':8}", subsequent_indent=" " * 10
            )
        )
    return "\n".join(lines)


def _resume_help() -> str:
    flags = ", ".join(_flag(d) for d in (*RESUME_FLAGS, "data", "no_progress"))
    keys = ", ".join(k if "." in k else k + ".*" for k in RESUME_KEYS)
    return textwrap.fill(
        f"--resume RUN continues with RUN's saved configuration; it accepts only flags that extend the schedule or "
        f"change what is printed: {flags}, and --set on {keys}. --max-time is a budget per session: a run stopped by "
        "it trains that long again when resumed. The text must be the one the run started with (same sha256); "
        "--data PATH points at it if it moved.",
        width=116,
    )


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _train_lm_parser(sub: argparse._SubParsersAction) -> Parser:
    from unrolled.models.ngram import SMOOTHINGS
    from unrolled.tasks.lm.codec import EOS_MODES
    from unrolled.tasks.lm.families import FAMILIES
    from unrolled.text.tokenize import TOKENIZERS
    from unrolled.train.config import METRICS_FORMATS
    from unrolled.train.optim import OPTIMIZERS
    from unrolled.train.schedule import SCHEDULES

    cells = _cell_names()
    p = sub.add_parser(
        "lm",
        help="train a language model (recurrent, fixed-window or n-gram) on a text",
        description="Train a language model on a UTF-8 text file or folder (default: a built-in corpus).",
        epilog=TRAIN_LM_EPILOG.format(resume=_resume_help(), settings=_settings_help()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bool_flag = argparse.BooleanOptionalAction
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="PATH", help="UTF-8 text file or folder of .txt files (default: built-in)")
    d.add_argument("--tokenizer", choices=list(TOKENIZERS), help="tokenize into characters (default) or words")
    d.add_argument("--lowercase", action=bool_flag, default=None, help="lower-case the text first (default off)")
    d.add_argument("--strip-punctuation", action=bool_flag, default=None, help="remove punctuation (default off)")
    d.add_argument("--strip-numbers", action=bool_flag, default=None, help="remove digits and numerals (default off)")
    d.add_argument(
        "--strip-special", action=bool_flag, default=None, help="remove symbols and control characters (default off)"
    )
    d.add_argument(
        "--stop-words",
        metavar="english|FILE",
        help="drop stop words (word tokenizer): the built-in English list or a file of one word per line",
    )
    d.add_argument(
        "--eos",
        choices=list(EOS_MODES),
        help="where <eos> goes: at each line end (default for words), document end, or none (default for chars)",
    )
    d.add_argument("--min-freq", type=int, metavar="N", help="rarer tokens become <unk> (default 1)")
    d.add_argument("--max-vocab", type=int, metavar="N", help="keep at most N tokens (incl. the 4 specials)")
    d.add_argument("--batch-size", type=int, metavar="B", help="rows of the training stream (default 32)")
    d.add_argument(
        "--bptt",
        type=int,
        metavar="K1",
        help="steps per truncated-BPTT chunk (default 100); 0 = full BPTT: each row in one piece",
    )
    d.add_argument("--k2", type=int, metavar="K2", help="steps back-propagated per update, >= bptt (default = bptt)")
    m = p.add_argument_group("model")
    m.add_argument(
        "--model",
        choices=list(FAMILIES),
        help="model family (default rnn): " + "; ".join(f"{f.name}: {f.summary}" for f in FAMILIES.values()),
    )
    m.add_argument("--cell", metavar="CELL", help=f"recurrent cell (default lstm): {', '.join(cells)}")
    m.add_argument("--layers", type=int, metavar="N", help="stacked recurrent layers (default 2)")
    m.add_argument("--hidden", type=int, metavar="H", help="hidden units per layer (default 256)")
    m.add_argument("--embed", type=int, metavar="E", help="embedding width (default 64)")
    m.add_argument("--dropout", type=float, metavar="P", help="dropout (default 0.1)")
    m.add_argument("--tie", action=bool_flag, default=None, help="tie embedding and softmax weights (default off)")
    m.add_argument("--recurrent-dropout", type=float, metavar="P", help="variational dropout on h")
    m.add_argument("--zoneout", type=float, metavar="P", help="zoneout probability")
    m.add_argument("--context", type=int, metavar="N", help="fixed-window model: tokens of context (default 8)")
    m.add_argument("--order", type=int, metavar="N", help="n-gram model: order n (default 5)")
    m.add_argument("--smoothing", choices=list(SMOOTHINGS), help="n-gram smoothing (default kneser_ney)")
    t = p.add_argument_group("training")
    t.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help=f"passes over the data (default 3; {BUILTIN_EPOCHS} on the built-in corpus)",
    )
    t.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps in total")
    t.add_argument(
        "--max-time",
        type=float,
        metavar="SECONDS",
        help=f"stop (with a checkpoint) after this long in this session (default: none; {BUILTIN_BUDGET_S:g} s on "
        "the built-in corpus)",
    )
    t.add_argument("--lr", type=float, help="learning rate (default 2e-3)")
    t.add_argument("--optimizer", choices=list(OPTIMIZERS), help="default adam")
    t.add_argument("--schedule", choices=list(SCHEDULES), help="default plateau")
    t.add_argument("--clip", type=float, metavar="NORM", help="clip the global gradient norm (default 1.0)")
    t.add_argument("--clip-value", type=float, metavar="V", help="clamp each gradient element to [-V, V]")
    t.add_argument("--l1", type=float, metavar="LAMBDA", help="L1 penalty on weight matrices")
    t.add_argument("--l2", type=float, metavar="LAMBDA", help="L2 penalty on weight matrices")
    t.add_argument("--patience", type=int, metavar="N", help="early stopping: stop after N validations without gain")
    t.add_argument("--eval-every", type=int, metavar="STEPS", help="validate every N steps (default: each epoch)")
    t.add_argument("--metrics-format", choices=list(METRICS_FORMATS), help="RUN/metrics.csv or .jsonl (default csv)")
    t.add_argument("--tensorboard", action=bool_flag, default=None, help="also log to RUN/tensorboard (default off)")
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument("--device", help="cpu, cuda, cuda:N or auto (default)")
    t.add_argument(
        "--sample-every",
        type=int,
        metavar="STEPS",
        help=f"print a sample every N steps (default: after each validation; {BUILTIN_SAMPLE_EVERY} on the built-in "
        "corpus)",
    )
    t.add_argument("--sample-length", type=int, metavar="N", help="tokens per printed sample (default 200)")
    t.add_argument("--sample-temperature", type=float, metavar="T", help="temperature of the samples (default 0.8)")
    r = p.add_argument_group("run")
    r.add_argument("--config", metavar="FILE", help="TOML or YAML config file (sections data, model, train, sample)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dotted override, repeatable")
    r.add_argument("--run-dir", metavar="DIR", help="new or empty run folder (default runs/lm-<timestamp>)")
    r.add_argument("--resume", metavar="RUN", help="continue a stopped run exactly (its saved config is used)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _cell_names() -> list[str]:
    from unrolled.cells.registry import CELLS

    return list(CELLS)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="unrolled: recurrent neural networks and sequence modeling on PyTorch.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"unrolled {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help=f"show the full traceback of an error (or set {DEBUG_ENV}=1)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)

    train = sub.add_parser(
        "train",
        help="train a model",
        description="Train a model for a task.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True, parser_class=Parser)
    lm = _train_lm_parser(tasks)

    g = sub.add_parser(
        "generate",
        help="generate text from a trained language model",
        description="Sample text from a trained language-model run.",
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("run", nargs="?", metavar="RUN", help="run folder (default: the most recent under ./runs)")
    g.add_argument("--prime", default=None, metavar="TEXT", help="text to start from (default: a new line)")
    g.add_argument("--length", type=int, default=None, metavar="N", help="tokens to generate (default 200)")
    g.add_argument("--temperature", type=float, default=None, metavar="T", help="0 = greedy (default 0.8)")
    g.add_argument("--top-k", type=int, default=None, metavar="K", help="sample among the K most likely tokens")
    g.add_argument("--top-p", type=float, default=None, metavar="P", help="nucleus sampling mass in (0, 1]")
    g.add_argument("--seed", type=int, default=None, help="sampling seed (default 0)")
    g.add_argument(
        "--stop-at-eos",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="stop at the first <eos> (a newline for char runs without <eos>); default: generate --length tokens",
    )
    g.add_argument("--last", action="store_true", help="use the latest checkpoint instead of the best weights")

    e = sub.add_parser(
        "evaluate",
        help="score a trained language model on a text",
        description="Perplexity and bits per token of a run on a UTF-8 text.",
        epilog=EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("run", metavar="RUN", help="run folder")
    e.add_argument("--data", required=True, metavar="PATH", help="UTF-8 text file or folder of .txt files")
    e.add_argument("--batch-size", type=int, default=1, metavar="B", help="parallel streams (default 1)")
    e.add_argument("--json", action="store_true", help="print the result as JSON")

    i = sub.add_parser(
        "info",
        help="describe a run",
        description="Show a run's configuration, corpus and best validation loss.",
        epilog=INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    i.add_argument("run", metavar="RUN", help="run folder")
    i.add_argument("--json", action="store_true", help="print as JSON")
    leaves = {("train", "lm"): lm, ("train",): train, ("generate",): g, ("evaluate",): e, ("info",): i}
    parser.set_defaults(_leaves=leaves)  # for errors that only the whole command line reveals
    return parser


# --- commands ---------------------------------------------------------------------------------------------
def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _override_key(item: str) -> str:
    return item.partition("=")[0].strip()


def _given_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {dest: getattr(args, dest) for dest in TRAIN_FLAGS if getattr(args, dest, None) is not None}


def _check_family_flags(family_name: str, given: dict[str, Any]) -> None:
    """Refuse flags that the chosen model family does not use (one line naming them)."""
    from unrolled.tasks.lm.families import FAMILIES

    family = FAMILIES.get(family_name)
    if family is None:
        return  # the config check names the bad family
    bad = []
    for dest in given:
        section, _, name = TRAIN_FLAGS[dest].partition(".")
        if section == "model" and name != "family" and name not in family.keys:
            bad.append(dest)
        elif not family.trains and (section == "train" or TRAIN_FLAGS[dest] in TRAINING_DATA_KEYS):
            bad.append(dest)
    if bad:
        what = "is fitted from counts and does not train" if not family.trains else "does not use them"
        verb = "does" if len(bad) == 1 else "do"
        raise CLIError(f"{', '.join(_flag(d) for d in bad)} {verb} not apply to --model {family_name} (it {what})")


def resolve_lm_config(args: argparse.Namespace):
    """defaults < config file < flags < --set, then typed and checked."""
    from unrolled.config_io import ConfigError, apply_overrides, load_config_file
    from unrolled.tasks.lm.config import SECTIONS, build_run_config, check_sections, default_raw_config

    raw = default_raw_config()
    explicit: set[str] = set()
    config = getattr(args, "config", None)
    if config:
        loaded = load_config_file(config)
        check_sections(loaded, source=config)
        explicit |= {f"{s}.{k}" for s, table in loaded.items() if isinstance(table, dict) for k in table}
        raw = _deep_merge(raw, loaded)
    given = _given_flags(args)
    for dest, value in given.items():
        section, name = TRAIN_FLAGS[dest].split(".")
        raw[section][name] = value
        explicit.add(TRAIN_FLAGS[dest])
    if getattr(args, "no_progress", False):
        raw["train"]["progress"] = False
    overrides = list(getattr(args, "set", []) or [])
    for item in overrides:
        key = _override_key(item)
        if key in SECTIONS:
            raise ConfigError(f"--set {item}: '{key}' is a section; set one of its keys, e.g. --set {key}.KEY=VALUE")
    raw = apply_overrides(raw, overrides)
    explicit |= {_override_key(item) for item in overrides}
    family = raw.get("model", {}).get("family") if isinstance(raw.get("model"), dict) else None
    if isinstance(family, str):
        _check_family_flags(family, given)
    data = raw.get("data")
    if isinstance(data, dict) and data.get("path") is None:  # the built-in corpus: the README's first command
        if "train.max_time" not in explicit and isinstance(raw.get("train"), dict):
            raw["train"]["max_time"] = BUILTIN_BUDGET_S
        if "sample.every" not in explicit and isinstance(raw.get("sample"), dict):
            raw["sample"]["every"] = BUILTIN_SAMPLE_EVERY
        if "train.epochs" not in explicit and isinstance(raw.get("train"), dict):
            raw["train"]["epochs"] = BUILTIN_EPOCHS
    return build_run_config(raw)


def _resume_config(args: argparse.Namespace, run_dir: Path):
    """The saved config of ``run_dir`` with the changes --resume allows; anything else is refused by name."""
    from unrolled.config_io import apply_overrides, to_dict
    from unrolled.tasks.lm.config import build_run_config
    from unrolled.tasks.lm.run import load_config

    given = _given_flags(args)
    refused = [_flag(d) for d in given if d not in RESUME_FLAGS and d != "data"]
    refused += [f"--{name.replace('_', '-')}" for name in ("config", "run_dir") if getattr(args, name, None)]
    for item in args.set:
        key = _override_key(item)
        if not any(key == k or key.startswith(k + ".") for k in RESUME_KEYS):
            refused.append(f"--set {key}")
    if refused:
        raise CLIError(
            f"--resume continues {run_dir} with its saved configuration; {', '.join(refused)} would change its model, "
            f"data or optimisation (allowed: {', '.join(_flag(d) for d in RESUME_FLAGS)}, --data with the same text, "
            f"--no-progress, and --set on {', '.join(k if '.' in k else k + '.*' for k in RESUME_KEYS)}); train a new "
            "run for other settings"
        )
    cfg, _ = load_config(run_dir)
    raw = to_dict(cfg)
    for dest, value in given.items():
        section, name = TRAIN_FLAGS[dest].split(".")
        raw[section][name] = value
    if args.no_progress:
        raw["train"]["progress"] = False
    return build_run_config(apply_overrides(raw, args.set))


def cmd_train_lm(args: argparse.Namespace) -> int:
    from unrolled.tasks.lm import load_run, train_lm

    if args.resume:
        run_dir = Path(args.resume)
        cfg = _resume_config(args, run_dir)
        out = train_lm(cfg, run_dir=run_dir, resume=True)
    else:
        cfg = resolve_lm_config(args)
        out = train_lm(cfg, run_dir=args.run_dir)
    if not out.main:  # a non-zero rank of a distributed run: rank 0 reports
        return 0
    result = out.result
    if result is not None:
        print(f"stopped: {result.stopped} after {result.steps} steps")
        if result.steps == out.start_step and args.resume:
            limit = (
                f"max_steps = {cfg.train.max_steps} (pass --max-steps N to go further)"
                if cfg.train.max_steps is not None and result.steps >= cfg.train.max_steps
                else f"epochs = {cfg.train.epochs} (pass --epochs N to train longer)"
            )
            print(f"nothing to do: {out.run_dir} has reached {limit}")
        elif result.stopped == "max_time":
            print(
                f"max_time is a budget per session: 'unrolled train lm --resume {out.run_dir}' trains another "
                f"{cfg.train.max_time:g} s (add --max-time SECONDS to change it)"
            )
    load_run(out.run_dir)  # the run is complete and loadable
    print(f"sample from it with: unrolled generate {out.run_dir}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from unrolled.tasks.lm import generate_text, latest_run, load_run

    run_dir = Path(args.run) if args.run else latest_run()
    run = load_run(run_dir, which="last" if args.last else "best")
    changes = {
        k: v
        for k, v in {
            "prime": args.prime,
            "length": args.length,
            "temperature": args.temperature,
            "top_k": args.top_k,
            "top_p": args.top_p,
            "seed": args.seed,
            "stop_at_eos": args.stop_at_eos,
        }.items()
        if v is not None
    }
    sample = replace(run.config.sample, **changes)  # checked again: a bad --top-p is a one-line error
    unknown = run.codec.unknown(sample.prime)
    if unknown:
        kind = "characters" if run.codec.tokenizer_name == "char" else "words"
        print(
            f"{PROG}: warning: the prime has {kind} that {run_dir} never saw, read as <unk>: "
            f"{', '.join(repr(t) for t in unknown[:20])}{' ...' if len(unknown) > 20 else ''}",
            file=sys.stderr,
        )
    print(generate_text(run, sample))
    return 0


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from unrolled.data.readers import read_documents
    from unrolled.tasks.lm import evaluate_documents, load_run

    run = load_run(args.run)
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be >= 1, got {args.batch_size}")
    ev = evaluate_documents(run, read_documents(args.data), batch_size=args.batch_size)
    unit = run.codec.unit
    result = {
        "run": str(run.run_dir),
        "data": args.data,
        "tokens": ev.tokens,
        "unknown_tokens": ev.unknown,
        "loss_nats": ev.loss,
        "perplexity": _json_number(ev.perplexity),
        unit.bits_key: ev.bits,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{run.run_dir} on {args.data}: {ev.tokens:,} tokens scored ({ev.unknown:,} unknown), loss {ev.loss:.4f} "
            f"nats/token, perplexity {ev.perplexity:.3f}, {ev.bits:.4f} {unit.bits_label}"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from unrolled.tasks.lm import run_info

    info = run_info(args.run)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"run:      {info['run']}")
    print(f"model:    {info['description']}")
    corpus = info.get("corpus") or {}
    tokens = corpus.get("tokens")
    size = f"{tokens:,} " if isinstance(tokens, int) else ""
    print(
        f"data:     {corpus.get('kind')} {corpus.get('path', '')} ({size}{info['data']['tokenizer']} tokens, "
        f"vocabulary {info['vocab_size']})"
    )
    if "best" in info:
        b = info["best"]
        if b.get("fitted"):
            print(f"valid:    loss {b['valid_loss']:.4f} nats/token (fitted from counts)")
        else:
            print(f"best:     valid loss {b['valid_loss']:.4f} nats/token at step {b['step']} (epoch {b['epoch']})")
    if "checkpoint" in info:
        print(f"resume:   unrolled train lm --resume {info['run']}")
    return 0


COMMANDS = {"generate": cmd_generate, "evaluate": cmd_evaluate, "info": cmd_info}
TRAIN_TASKS = {"lm": cmd_train_lm}


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user can cause: the project's own error type, bad values (``ValueError``), file problems
    (``OSError``: missing, unreadable, not a folder...), a missing optional package. Anything else (a
    ``TypeError``, a ``RuntimeError``) is a bug and shows its traceback."""
    import torch

    from unrolled.errors import UnrolledError

    return (UnrolledError, CLIError, ValueError, OSError, ImportError, torch.cuda.OutOfMemoryError)


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        key = (args.command, args.task) if args.command == "train" else (args.command,)
        leaf = args._leaves.get(key, parser)
        leaf.error(f"unrecognized arguments: {' '.join(extra)}")
    handler = TRAIN_TASKS[args.task] if args.command == "train" else COMMANDS[args.command]
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as e:
        if debug:
            raise
        if _is_main_rank():  # under torchrun every rank fails alike: say it once
            message = " ".join(str(e).split()) or type(e).__name__
            print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
