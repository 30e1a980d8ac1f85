"""The ``unrolled`` command. The only module that parses a command line.

unrolled train lm [--data PATH] [--tokenizer char|word] [--cell lstm] [--layers N] [--hidden H] ...
unrolled generate [RUN] [--prime TEXT] [--temperature T] [--top-k K] [--top-p P] [--length N]
unrolled evaluate RUN --data PATH
unrolled info RUN
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unrolled import __version__

PROG = "unrolled"

TRAIN_LM_EPILOG = """\
examples:
  unrolled train lm                                   # built-in corpus (Python stdlib source), char LSTM, ~3 min
  unrolled train lm --data input.txt --layers 2 --hidden 512 --epochs 20
  unrolled train lm --data corpus/ --tokenizer word --cell gru --tie --bptt 35
  unrolled train lm --data input.txt --model ngram --order 5          # Kneser-Ney baseline
  unrolled train lm --data input.txt --model fixed_window --context 8  # Bengio et al. 2003 baseline
  unrolled train lm --config configs/lm_shakespeare.toml --set train.lr=1e-3 --set model.dropout=0.3
  unrolled train lm --resume runs/lm-20261123-101500                   # continue exactly where it stopped

precedence: built-in defaults < --config file < flags < --set overrides. The resolved configuration is saved
as RUN/config.json. Ctrl-C saves a checkpoint; --resume continues it.
"""

GENERATE_EPILOG = """\
examples:
  unrolled generate                                   # from the most recent run under ./runs
  unrolled generate runs/lm-20261123-101500 --prime "def " --length 400 --temperature 0.7
  unrolled generate RUN --top-p 0.9 --seed 3
  unrolled generate RUN --temperature 0                 # greedy
"""

EVALUATE_EPILOG = """\
examples:
  unrolled evaluate runs/lm-20261123-101500 --data valid.txt
  unrolled evaluate RUN --data valid.txt --json
reports mean loss in nats per token, perplexity, and bits per character (char runs) or per word.
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
    "l2": "train.l2",
    "seed": "train.seed",
    "device": "train.device",
    "sample_every": "sample.every",
    "sample_length": "sample.length",
}


#: wall-clock budget of ``unrolled train lm`` on the built-in corpus when no time limit is given (the README's
#: first command must finish within 3 minutes on 2 CPU cores, corpus preparation and validation included)
BUILTIN_BUDGET_S = 150.0


class CLIError(Exception):
    """A user error found by the CLI itself."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``unrolled train lm: error: ... (see --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _train_lm_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lm",
        help="train a language model (recurrent, fixed-window or n-gram) on a text",
        description="Train a language model on a UTF-8 text file or folder (default: a built-in corpus).",
        epilog=TRAIN_LM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="PATH", help="UTF-8 text file or folder of .txt files (default: built-in)")
    d.add_argument("--tokenizer", choices=["char", "word"], help="tokenize into characters (default) or words")
    d.add_argument("--lowercase", action="store_true", default=None, help="lower-case the text first")
    d.add_argument("--min-freq", type=int, metavar="N", help="rarer tokens become <unk> (default 1)")
    d.add_argument("--max-vocab", type=int, metavar="N", help="keep at most N tokens (incl. specials)")
    d.add_argument("--batch-size", type=int, metavar="B", help="rows of the training stream (default 32)")
    d.add_argument("--bptt", type=int, metavar="K1", help="steps per truncated-BPTT chunk (default 100)")
    d.add_argument("--k2", type=int, metavar="K2", help="steps back-propagated per update, >= bptt (default = bptt)")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=["rnn", "fixed_window", "ngram"], help="model family (default rnn)")
    m.add_argument("--cell", help="recurrent cell: lstm (default), gru, gru_before, elman, leaky, ln_lstm, ...")
    m.add_argument("--layers", type=int, metavar="N", help="stacked recurrent layers (default 2)")
    m.add_argument("--hidden", type=int, metavar="H", help="hidden units per layer (default 256)")
    m.add_argument("--embed", type=int, metavar="E", help="embedding width (default 64)")
    m.add_argument("--dropout", type=float, metavar="P", help="dropout (default 0.1)")
    m.add_argument("--tie", action="store_true", default=None, help="tie embedding and softmax weights")
    m.add_argument("--recurrent-dropout", type=float, metavar="P", help="variational dropout on h")
    m.add_argument("--zoneout", type=float, metavar="P", help="zoneout probability")
    m.add_argument("--context", type=int, metavar="N", help="fixed-window model: tokens of context (default 8)")
    m.add_argument("--order", type=int, metavar="N", help="n-gram model: order n (default 5)")
    m.add_argument("--smoothing", choices=["kneser_ney", "add_k"], help="n-gram smoothing (default kneser_ney)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, metavar="N", help="passes over the data (default 3)")
    t.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps")
    t.add_argument(
        "--max-time",
        type=float,
        metavar="SECONDS",
        help=f"stop (with a checkpoint) after this long (default: none; {BUILTIN_BUDGET_S:g} s on the built-in corpus)",
    )
    t.add_argument("--lr", type=float, help="learning rate (default 2e-3)")
    t.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "adagrad", "rmsprop"], help="default adam")
    t.add_argument("--schedule", choices=["constant", "step", "cosine", "plateau"], help="default plateau")
    t.add_argument("--clip", type=float, metavar="NORM", help="clip the global gradient norm (default 1.0)")
    t.add_argument("--l2", type=float, metavar="LAMBDA", help="L2 penalty on weight matrices")
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument("--device", help="cpu, cuda, cuda:N or auto (default)")
    t.add_argument("--sample-every", type=int, metavar="STEPS", help="print a sample every N steps")
    t.add_argument("--sample-length", type=int, metavar="N", help="tokens per printed sample (default 200)")
    r = p.add_argument_group("run")
    r.add_argument("--config", metavar="FILE", help="TOML or YAML config file (sections data, model, train, sample)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dotted override, repeatable")
    r.add_argument("--run-dir", metavar="DIR", help="run folder (default runs/lm-<timestamp>)")
    r.add_argument("--resume", metavar="RUN", help="continue a stopped run exactly (its saved config is used)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="unrolled: recurrent neural networks and sequence modeling on PyTorch.",
        epilog="Run 'unrolled COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"unrolled {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)

    train = sub.add_parser("train", help="train a model", description="Train a model for a task.")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True, parser_class=Parser)
    _train_lm_parser(tasks)

    g = sub.add_parser(
        "generate",
        help="generate text from a trained language model",
        description="Sample text from a trained language-model run.",
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("run", nargs="?", metavar="RUN", help="run folder (default: the most recent under ./runs)")
    g.add_argument("--prime", default=None, metavar="TEXT", help="text to start from (default: a newline)")
    g.add_argument("--length", type=int, default=None, metavar="N", help="tokens to generate (default 200)")
    g.add_argument("--temperature", type=float, default=None, metavar="T", help="0 = greedy (default 0.8)")
    g.add_argument("--top-k", type=int, default=None, metavar="K", help="sample among the K most likely tokens")
    g.add_argument("--top-p", type=float, default=None, metavar="P", help="nucleus sampling mass in (0, 1]")
    g.add_argument("--seed", type=int, default=None, help="sampling seed (default 0)")
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
    return parser


# --- commands ---------------------------------------------------------------------------------------------
def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve_lm_config(args: argparse.Namespace):
    """defaults < config file < flags < --set, then typed and checked."""
    from unrolled.config_io import apply_overrides, from_dict, load_config_file, to_dict
    from unrolled.tasks.lm import LMRunConfig

    raw = to_dict(LMRunConfig())
    if args.config:
        raw = _deep_merge(raw, load_config_file(args.config))
    for dest, key in TRAIN_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            section, name = key.split(".")
            raw[section][name] = value
    if args.no_progress:
        raw["train"]["progress"] = False
    raw = apply_overrides(raw, args.set)
    if raw["data"].get("path") is None and raw["train"].get("max_time") is None:
        raw["train"]["max_time"] = BUILTIN_BUDGET_S
    return from_dict(LMRunConfig, raw)


def cmd_train_lm(args: argparse.Namespace) -> int:
    from unrolled.tasks.lm import load_run, train_lm
    from unrolled.tasks.lm.run import load_config

    if args.resume:
        run_dir = Path(args.resume)
        cfg, _ = load_config(run_dir)
        if args.max_time is not None:
            cfg.train.max_time = args.max_time
        out = train_lm(cfg, run_dir=run_dir, resume=True)
    else:
        cfg = resolve_lm_config(args)
        out = train_lm(cfg, run_dir=args.run_dir)
    if not out.main:  # a non-zero rank of a distributed run: rank 0 reports
        return 0
    if out.result is not None:
        print(f"stopped: {out.result.stopped} after {out.result.steps} steps")
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
        }.items()
        if v is not None
    }
    sample = replace(run.config.sample, **changes)
    print(generate_text(run, sample))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from unrolled.data.readers import read_text
    from unrolled.tasks.lm import evaluate_text, load_run

    run = load_run(args.run)
    ev = evaluate_text(run, read_text(args.data), batch_size=args.batch_size)
    unit = "bpc" if run.codec.tokenizer_name == "char" else "bits_per_word"
    result = {
        "run": str(run.run_dir),
        "data": args.data,
        "tokens": ev.tokens,
        "unknown_tokens": ev.unknown,
        "loss_nats": ev.loss,
        "perplexity": ev.perplexity,
        unit: ev.bits,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{run.run_dir} on {args.data}: {ev.tokens:,} tokens ({ev.unknown:,} unknown), loss {ev.loss:.4f} "
            f"nats/token, perplexity {ev.perplexity:.3f}, {ev.bits:.4f} {unit.replace('_', ' ')}"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from unrolled.tasks.lm import run_info

    info = run_info(args.run)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    model = info["model"]
    print(f"run:      {info['run']}")
    if info["family"] == "rnn":
        desc = f"rnn {model['cell']}, {model['layers']} x {model['hidden']}, embed {model['embed_dim']}"
    elif info["family"] == "fixed_window":
        desc = f"fixed window, context {model['context']}, hidden {model['hidden']}"
    else:
        desc = f"{model['order']}-gram, {model['smoothing']}"
    print(f"model:    {desc}")
    corpus = info.get("corpus") or {}
    print(
        f"data:     {corpus.get('kind')} {corpus.get('path', '')} ({corpus.get('tokens', '?'):,} "
        f"{info['data']['tokenizer']} tokens, vocabulary {info['vocab_size']})"
    )
    if "best" in info:
        b = info["best"]
        print(f"best:     valid loss {b['valid_loss']:.4f} nats/token at step {b['step']} (epoch {b['epoch']})")
    if "checkpoint" in info:
        print(f"resume:   unrolled train lm --resume {info['run']}")
    return 0


COMMANDS = {"generate": cmd_generate, "evaluate": cmd_evaluate, "info": cmd_info}
TRAIN_TASKS = {"lm": cmd_train_lm}


def _user_errors() -> tuple[type[BaseException], ...]:
    from unrolled.train.errors import CheckpointError, TrainingDiverged

    return (
        ValueError,
        TypeError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        RuntimeError,
        CheckpointError,
        TrainingDiverged,
        CLIError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = TRAIN_TASKS[args.task] if args.command == "train" else COMMANDS[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as e:
        message = " ".join(str(e).split()) or type(e).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
