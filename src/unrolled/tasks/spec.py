"""What a task declares to join the shared machinery: :class:`Task`, its :class:`Option` s and :class:`Command` s.

A task (language modeling, classification, tagging, translation, forecasting, ...) is a package
``unrolled.tasks.NAME`` whose module ``task.py`` defines ``TASK = Task(...)`` (and, optionally, ``COMMANDS``: extra
top-level commands of a package that trains nothing, such as the lab). :mod:`unrolled.tasks.registry` finds them;
nothing else lists them.

What the machinery does once for every task (:mod:`unrolled.tasks.runs`, :mod:`~unrolled.tasks.resolve`,
:mod:`~unrolled.tasks.session`, and ``cli.py``):

- ``unrolled train TASK``: config resolution (the config dataclass's defaults < ``--config FILE`` < the task's
  flags < ``--set section.key=value``), a new run folder (``--run-dir``, or ``runs/TASK-<timestamp>``) or
  ``--resume RUN`` (only :attr:`Task.resume_options` / :attr:`Task.resume_keys` may change), a lock on the folder for
  the life of the process, rank-0-only writing under torchrun, removal of what a run that failed before its first
  checkpoint wrote; then :attr:`Task.train` is called with the typed config and a
  :class:`~unrolled.tasks.session.RunSession` (whose ``fit`` runs the :class:`~unrolled.train.Trainer`);
- ``unrolled evaluate RUN [--data PATH] [--json]``, ``unrolled predict RUN [INPUT] [--output FILE]`` and
  ``unrolled info RUN [--json]`` read the task recorded in ``RUN/config.json`` and call :attr:`Task.evaluate`,
  :attr:`Task.predict`, :attr:`Task.info`;
- the command line itself: ``cli.py`` builds every parser from the declared :class:`Option` s (tasks never touch
  argparse) and turns user errors into one line.

Example (a task's ``task.py``, shortened)::

    TASK = Task(
        name="classify",
        summary="classify whole sequences (sentiment, names by language)",
        config_type=ClassifyRunConfig,               # a dataclass of section dataclasses: data, model, train
        train=train_classifier,                      # (cfg, session) -> TrainOutcome
        evaluate=evaluate_run,                       # (run_dir, opts) -> Report
        predict=predict_lines,                       # (run_dir, opts) -> iterable of output lines
        info=describe_run,                           # (run_dir, raw_config) -> dict with "model" and "data"
        train_options=(Option("--data", "a CSV/TSV file or a folder per class", key="data.path", metavar="PATH"),
                       Option("--hidden", "hidden units", key="model.hidden", type=int, metavar="H")),
        resume_options=("epochs", "max_time"),
    )
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from unrolled.tasks.session import RunSession
    from unrolled.train.trainer import TrainResult

__all__ = ["Command", "Option", "Report", "Task", "TrainOutcome"]


@dataclass(frozen=True)
class Option:
    """One command-line option, declared as data (``cli.py`` turns it into an argparse argument).

    Args:
        flag: ``"--hidden"`` for an option, or a name without dashes (``"input"``) for a positional argument.
        help: one line for ``--help``.
        key: for a ``train`` option, the dotted config key it sets (``"model.hidden"``); ``None`` for options a
            command reads itself.
        type: converts the text (``int``, ``float``, ``str``); ignored by switches.
        metavar: the value's name in ``--help``.
        choices: the allowed values, or a callable returning them (resolved when the parser is built).
        switch: a boolean ``--x / --no-x`` option (``None`` when not given).
        store_true: a plain ``--x`` flag (``False`` when not given).
        nargs: argparse's ``nargs`` (``"?"`` for an optional positional, ``"*"``, ``"+"``).
        repeat: may be given several times; the values are collected in a list.
        default: the value when not given (``None``: not given, so a ``train`` option leaves its key alone).
        group: the heading it is listed under in ``--help``.
    """

    flag: str
    help: str
    key: str | None = None
    type: Callable[[str], Any] | None = str
    metavar: str | None = None
    choices: Sequence[str] | Callable[[], Iterable[str]] | None = None
    switch: bool = False
    store_true: bool = False
    nargs: str | None = None
    repeat: bool = False
    default: Any = None
    group: str = "options"

    @property
    def dest(self) -> str:
        """The option's name in the parsed values: ``--max-time`` -> ``max_time``."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def positional(self) -> bool:
        return not self.flag.startswith("-")

    def resolved_choices(self) -> list[str] | None:
        if self.choices is None:
            return None
        return list(self.choices() if callable(self.choices) else self.choices)


@dataclass(frozen=True)
class Command:
    """An extra top-level command (``unrolled generate``, ``unrolled translate``, ``unrolled lab``...).

    Args:
        name: the command word. help: one line for ``unrolled --help``. description / epilog: its own ``--help``.
        options: its arguments. run: ``opts -> exit code``, where ``opts`` maps each option's ``dest`` to its value.
    """

    name: str
    help: str
    run: Callable[[dict[str, Any]], int]
    options: tuple[Option, ...] = ()
    description: str = ""
    epilog: str = ""


@dataclass
class Report:
    """What ``evaluate`` found: ``metrics`` (JSON-able, printed by ``--json`` after ``run``, ``task`` and
    ``data``), and ``text``, the lines printed otherwise."""

    metrics: dict[str, Any]
    text: str
    data: str | None = None  # what was scored: a path, or e.g. "validation split"


@dataclass
class TrainOutcome:
    """What one ``train`` call did.

    Args:
        run_dir: the run folder. result: the trainer's result (``None`` for a model fitted in closed form).
        valid_loss: the best validation loss; ``None`` if there was no validation.
        main: ``False`` on the non-zero ranks of a distributed run (which write and print nothing).
        start_step: optimizer steps the run had done before this session (resumed runs).
        next_step: a line telling what to do with the run (``sample from it with: unrolled generate RUN``).
    """

    run_dir: Path
    result: TrainResult | None = None
    valid_loss: float | None = None
    main: bool = True
    start_step: int = 0
    next_step: str | None = None


def _sections(config_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(config_type))


@dataclass(frozen=True)
class Task:
    """A trainable task as the machinery sees it.

    Args:
        name: ``unrolled train NAME``; recorded as ``"task"`` in every run's ``config.json``.
        summary: one line for ``unrolled train --help``.
        config_type: the run configuration, a dataclass whose fields are the sections (dataclasses: ``data``,
            ``model``, ``train`` (a :class:`~unrolled.train.TrainConfig`) ...), checked when built.
        train: ``(config, session) -> TrainOutcome``; writes into ``session.run_dir`` (see
            :class:`~unrolled.tasks.session.RunSession`).
        evaluate: ``(run_dir, opts) -> Report``; ``opts["data"]`` is the ``--data`` path or ``None`` (then the
            run's own held-out split: test if there is one, else validation).
        predict: ``(run_dir, opts) -> lines``; ``opts["input"]`` is a path, ``"-"`` (standard input) or ``None``.
        info: ``(run_dir, raw_config) -> dict`` with at least ``"description"`` (the model in one line) and
            ``"data"`` (a dict or string); the machinery adds the run, the task, the best validation and the
            checkpoint.
        train_options / evaluate_options / predict_options: the task's own command-line options.
        resume_options: ``dest`` s of train options allowed with ``--resume`` (they extend the schedule or change
            what is printed, never the model or the data). resume_keys: ``--set`` keys allowed with ``--resume``
            (a section name alone allows all its keys).
        commands: extra top-level commands (``generate``, ``translate``, ``forecast``...).
        prepare: ``(raw, explicit, given) -> None``: task-specific defaults and option checks on the raw config
            before it is typed (``explicit``: the keys the user set; ``given``: option ``dest`` -> value).
        build_config: ``raw dict -> config``; default ``from_dict(config_type, raw)``.
        default_raw: the defaults as a dict of sections; default ``to_dict(config_type())``.
        description / epilog: ``unrolled train NAME --help``.
    """

    name: str
    summary: str
    config_type: type
    train: Callable[[Any, RunSession], TrainOutcome]
    evaluate: Callable[[Path, dict[str, Any]], Report]
    predict: Callable[[Path, dict[str, Any]], Iterable[str]]
    info: Callable[[Path, Mapping[str, Any]], dict[str, Any]]
    train_options: tuple[Option, ...] = ()
    evaluate_options: tuple[Option, ...] = ()
    predict_options: tuple[Option, ...] = ()
    resume_options: tuple[str, ...] = ()
    resume_keys: tuple[str, ...] = ()
    commands: tuple[Command, ...] = ()
    prepare: Callable[[dict[str, Any], set[str], dict[str, Any]], None] | None = None
    build_config: Callable[[dict[str, Any]], Any] | None = None
    default_raw: Callable[[], dict[str, Any]] | None = None
    description: str = ""
    epilog: str = ""

    @property
    def sections(self) -> tuple[str, ...]:
        """The config's sections (the fields of :attr:`config_type`)."""
        return _sections(self.config_type)

    def option(self, dest: str) -> Option | None:
        """The train option whose ``dest`` is ``dest``."""
        return next((o for o in self.train_options if o.dest == dest), None)
