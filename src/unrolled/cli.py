"""The ``unrolled`` command. The only module that parses a command line.

unrolled train TASK [task options] [--config FILE] [--set KEY=VALUE] [--run-dir DIR | --resume RUN]
unrolled evaluate RUN [--data PATH] [--json]
unrolled predict RUN [INPUT] [--output FILE]
unrolled info RUN [--json]
unrolled generate | translate | forecast | ... (the commands the tasks declare)

Every parser is built from what the tasks declare (:mod:`unrolled.tasks.spec`): options are data, and the generic
commands dispatch on the task recorded in the run folder. Errors are one line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
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
see 'unrolled train TASK --help' for a task's options.
"""

EVALUATE_EPILOG = """\
examples:
  unrolled evaluate runs/lm-20261123-101500 --data valid.txt
  unrolled evaluate RUN --json                       # the run's own held-out split (test, else validation)
the metrics are the task's: for a language model the tokens scored (the text cut into --batch-size rows, the
first token of each row context only: the same tokens for every model family), mean loss in nats per token,
perplexity = exp(loss), and bits per character (char runs) or per word = loss / ln 2.
"""

PREDICT_EPILOG = """\
examples:
  unrolled predict runs/lm-20261123-101500 prompts.txt   # a continuation of each line
  echo "some text" | unrolled predict RUN -               # standard input
  unrolled predict RUN INPUT --output predictions.txt
"""

INFO_EPILOG = """\
examples:
  unrolled info runs/lm-20261123-101500
  unrolled info RUN --json
"""


class CLIError(Exception):
    """A user error found by the CLI itself."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``unrolled train lm: error: ... (see --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_options(parser: argparse.ArgumentParser, options: Sequence[Any], seen: set[str] | None = None) -> None:
    """Turn declared :class:`~unrolled.tasks.spec.Option` s into argparse arguments, grouped as declared."""
    groups: dict[str, Any] = {}
    for o in options:
        if seen is not None:
            if o.dest in seen:
                continue
            seen.add(o.dest)
        target = parser
        if not o.positional and o.group != "options":
            target = groups.get(o.group) or groups.setdefault(o.group, parser.add_argument_group(o.group))
        kwargs: dict[str, Any] = {"help": o.help}
        if o.switch:
            kwargs.update(action=argparse.BooleanOptionalAction, default=None)
        elif o.store_true:
            kwargs.update(action="store_true")
        else:
            kwargs.update(type=o.type, metavar=o.metavar, default=o.default)
            choices = o.resolved_choices()
            if choices is not None:
                kwargs["choices"] = choices
            if o.nargs is not None:
                kwargs["nargs"] = o.nargs
            if o.repeat:
                kwargs.update(action="append", default=[] if o.default is None else o.default)
        if o.positional:
            kwargs.pop("metavar", None) if o.metavar is None else None
            target.add_argument(o.flag, **kwargs)
        else:
            target.add_argument(o.flag, dest=o.dest, **kwargs)


def _train_parser(sub: argparse._SubParsersAction, task: Any) -> Parser:
    from unrolled.tasks.options import settings_help

    p = sub.add_parser(
        task.name,
        help=task.summary,
        description=task.description or task.summary,
        epilog="\n\n".join(part for part in (task.epilog.rstrip(), settings_help(task)) if part),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(p, task.train_options)
    r = p.add_argument_group("run")
    sections = ", ".join(task.sections)
    r.add_argument("--config", metavar="FILE", help=f"TOML or YAML config file (sections {sections})")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dotted override, repeatable")
    r.add_argument("--run-dir", metavar="DIR", help=f"new or empty run folder (default runs/{task.name}-<timestamp>)")
    r.add_argument("--resume", metavar="RUN", help="continue a stopped run exactly (its saved config is used)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _command_parser(sub: argparse._SubParsersAction, command: Any) -> Parser:
    p = sub.add_parser(
        command.name,
        help=command.help,
        description=command.description or command.help,
        epilog=command.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(p, command.options)
    return p


def build_parser() -> argparse.ArgumentParser:
    from unrolled.tasks.registry import all_commands, tasks

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
    known = tasks()
    train = sub.add_parser(
        "train",
        help="train a model for a task: " + ", ".join(known),
        description="Train a model for a task.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    task_parsers = train.add_subparsers(dest="task", metavar="TASK", required=True, parser_class=Parser)
    leaves: dict[tuple[str, ...], argparse.ArgumentParser] = {("train",): train}
    for task in known.values():
        leaves[("train", task.name)] = _train_parser(task_parsers, task)

    e = sub.add_parser(
        "evaluate",
        help="score a trained run (its task's metrics)",
        description="Score a run on --data, or on its own held-out split (test if there is one, else validation).",
        epilog=EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("run", metavar="RUN", help="run folder")
    e.add_argument("--data", metavar="PATH", help="data in the task's format (default: the run's held-out split)")
    e.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    seen = {"run", "data", "json"}
    for task in known.values():
        _add_options(e, task.evaluate_options, seen)

    pr = sub.add_parser(
        "predict",
        help="apply a trained run to new input",
        description="Apply a run to INPUT (a file, or - for standard input) and print or write the predictions.",
        epilog=PREDICT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pr.add_argument("run", metavar="RUN", help="run folder")
    pr.add_argument("input", nargs="?", metavar="INPUT", help="input file in the task's format, or - for stdin")
    pr.add_argument("--output", metavar="FILE", help="write the predictions to FILE (default: print them)")
    seen = {"run", "input", "output"}
    for task in known.values():
        _add_options(pr, task.predict_options, seen)

    i = sub.add_parser(
        "info",
        help="describe a run",
        description="Show a run's task, model, data and best validation loss.",
        epilog=INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    i.add_argument("run", metavar="RUN", help="run folder")
    i.add_argument("--json", action="store_true", help="print as JSON")
    leaves.update({("evaluate",): e, ("predict",): pr, ("info",): i})
    for command in all_commands():
        leaves[(command.name,)] = _command_parser(sub, command)
    parser.set_defaults(_leaves=leaves)  # for errors that only the whole command line reveals
    return parser


# --- commands ---------------------------------------------------------------------------------------------
def _given(task: Any, args: argparse.Namespace) -> dict[str, Any]:
    return {o.dest: getattr(args, o.dest) for o in task.train_options if getattr(args, o.dest, None) is not None}


def resolve_train_config(task_name: str, args: argparse.Namespace) -> Any:
    """The config of a new run of ``task_name`` from parsed arguments: defaults < --config < flags < --set."""
    from unrolled.tasks.registry import get_task
    from unrolled.tasks.resolve import resolve_config

    task = get_task(task_name)
    overrides = getattr(args, "set", None) or []
    return resolve_config(task, getattr(args, "config", None), _given(task, args), overrides, args.no_progress)


def cmd_train(args: argparse.Namespace) -> int:
    from unrolled.tasks.registry import get_task
    from unrolled.tasks.resolve import resume_config
    from unrolled.tasks.session import train_run

    task = get_task(args.task)
    if args.resume:
        run_dir = Path(args.resume)
        refused = [flag for flag, value in (("--config", args.config), ("--run-dir", args.run_dir)) if value]
        cfg = resume_config(task, run_dir, _given(task, args), args.set, args.no_progress, refused)
        out = train_run(task, cfg, run_dir=run_dir, resume=True)
    else:
        cfg = resolve_train_config(task.name, args)
        out = train_run(task, cfg, run_dir=args.run_dir)
    if not out.main:  # a non-zero rank of a distributed run: rank 0 reports
        return 0
    result = out.result
    train = getattr(cfg, "train", None)
    if result is not None:
        print(f"stopped: {result.stopped} after {result.steps} steps")
        if result.steps == out.start_step and args.resume:
            limit = (
                f"max_steps = {train.max_steps} (pass --max-steps N to go further)"
                if train.max_steps is not None and result.steps >= train.max_steps
                else f"epochs = {train.epochs} (pass --epochs N to train longer)"
            )
            print(f"nothing to do: {out.run_dir} has reached {limit}")
        elif result.stopped == "max_time":
            print(
                f"max_time is a budget per session: 'unrolled train {task.name} --resume {out.run_dir}' trains "
                f"another {train.max_time:g} s (add --max-time SECONDS to change it)"
            )
    print(out.next_step or f"evaluate it with: unrolled evaluate {out.run_dir}")
    if result is not None and result.stopped == "interrupted":
        return 128 + (result.signal or signal.SIGINT)  # as a shell reports it: 'train ... && next' must not go on
    return 0


def _run_task(run: str) -> tuple[Any, Path, dict[str, Any]]:
    from unrolled.tasks.registry import get_task
    from unrolled.tasks.runs import read_run_config

    run_dir = Path(run)
    raw = read_run_config(run_dir)
    return get_task(raw["task"]), run_dir, raw


def _check_task_options(task: Any, command: str, args: argparse.Namespace) -> None:
    """Refuse options of another task's ``command`` (every task's options share one parser)."""
    from unrolled.tasks.registry import tasks

    own = {o.dest for o in getattr(task, f"{command}_options")}
    bad = []
    for other in tasks().values():
        for o in getattr(other, f"{command}_options"):
            if o.dest not in own and getattr(args, o.dest, o.default) not in (o.default, None, False, []):
                bad.append(o.flag)
    if bad:
        raise CLIError(f"{', '.join(sorted(set(bad)))} do not apply to {args.run}: it is a {task.name} run")


def cmd_evaluate(args: argparse.Namespace) -> int:
    task, run_dir, _ = _run_task(args.run)
    _check_task_options(task, "evaluate", args)
    report = task.evaluate(run_dir, vars(args))
    if args.json:
        print(json.dumps({"run": str(run_dir), "task": task.name, "data": report.data, **report.metrics}, indent=2))
    else:
        print(report.text)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from unrolled.train.checkpoint import write_text

    task, run_dir, _ = _run_task(args.run)
    _check_task_options(task, "predict", args)
    lines = list(task.predict(run_dir, vars(args)))
    if args.output:
        write_text(args.output, "".join(line + "\n" for line in lines))
        print(f"{len(lines)} predictions written to {args.output}")
    else:
        for line in lines:
            print(line)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from unrolled.tasks.runs import read_best_meta
    from unrolled.train.checkpoint import find_checkpoint

    task, run_dir, raw = _run_task(args.run)
    info = {"run": str(run_dir), "task": task.name, **task.info(run_dir, raw)}
    best = read_best_meta(run_dir)
    if best is not None:
        info["best"] = best
    ckpt = find_checkpoint(run_dir)
    if ckpt is not None and (ckpt / "progress.json").is_file():
        info["checkpoint"] = str(ckpt)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"run:      {info['run']}")
    print(f"task:     {task.name}")
    print(f"model:    {info.get('description', '')}")
    data = info.get("data_summary", info.get("data"))
    if data is not None:
        print(f"data:     {data if isinstance(data, str) else json.dumps(data)}")
    if best is not None:
        if best.get("fitted"):
            print(f"valid:    loss {best['valid_loss']:.4f} (fitted, not trained)")
        else:
            print(f"best:     valid loss {best['valid_loss']:.4f} at step {best['step']} (epoch {best['epoch']})")
            if not (run_dir / "best" / "model.safetensors").is_file():
                print("          its weights (best/model.safetensors) are missing: commands use the latest checkpoint")
    if "checkpoint" in info:
        print(f"resume:   unrolled train {task.name} --resume {info['run']}")
    return 0


COMMANDS = {"evaluate": cmd_evaluate, "predict": cmd_predict, "info": cmd_info}


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user can cause: the project's own error type, bad values (``ValueError``), file problems
    (``OSError``: missing, unreadable, not a folder...), a missing optional package. Anything else (a
    ``TypeError``, a ``RuntimeError``) is a bug and shows its traceback."""
    import torch

    from unrolled.errors import UnrolledError

    return (UnrolledError, CLIError, ValueError, OSError, ImportError, torch.cuda.OutOfMemoryError)


def _is_out_of_memory(error: BaseException) -> bool:
    text = str(error)
    return "can't allocate memory" in text or "out of memory" in text.lower() or "not enough memory" in text


def _out_of_memory_message(error: BaseException) -> str:
    """One line for an allocation failure: how much was asked for, and what to change."""
    import re

    asked = re.search(r"allocate (\d+) bytes", str(error))
    size = f" ({int(asked.group(1)) / 2**30:,.1f} GiB asked for at once)" if asked else ""
    return (
        f"not enough memory for this model or batch{size}; choose smaller sizes (--hidden, --layers, --embed, "
        "--context, --batch-size)"
    )


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") in ("", "0")


def _handler(args: argparse.Namespace):
    if args.command == "train":
        return cmd_train
    if args.command in COMMANDS:
        return COMMANDS[args.command]
    from unrolled.tasks.registry import all_commands

    command = next(c for c in all_commands() if c.name == args.command)
    return lambda a: command.run({k: v for k, v in vars(a).items() if not k.startswith("_")})


class Terminated(KeyboardInterrupt):
    """SIGTERM outside a training loop (which handles it itself: checkpoint, one line, exit 143)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:  # Ctrl-C while starting (imports, building the parser)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # nothing of ours is left to clean up


def _main(argv: Sequence[str] | None) -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)  # cleanup code runs (finally blocks, failed-start removal)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        key = (args.command, args.task) if args.command == "train" else (args.command,)
        leaf = args._leaves.get(key, parser)
        leaf.error(f"unrecognized arguments: {' '.join(extra)}")
    handler = _handler(args)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return handler(args)
    except RuntimeError as e:
        if debug or not _is_out_of_memory(e):
            raise  # a bug: show its traceback
        if _is_main_rank():
            print(f"{PROG}: error: {_out_of_memory_message(e)}", file=sys.stderr)
        return 2
    except _user_errors() as e:
        if debug:
            raise
        if _is_main_rank():  # under torchrun every rank fails alike: say it once
            message = " ".join(str(e).split()) or type(e).__name__
            print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
