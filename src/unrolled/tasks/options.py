"""Options every task shares, declared once: the ``train`` section's flags, the registries' choices, resume rules,
and the ``--set`` listing of a config for ``--help``.

A task lists ``*training_options()`` after its own data and model options, and ``RESUME_OPTIONS`` /
``RESUME_KEYS`` (plus its own) as what ``--resume`` may change.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from typing import Any

from unrolled.tasks.spec import Option, Task

__all__ = [
    "RESUME_KEYS",
    "RESUME_OPTIONS",
    "cells",
    "optimizers",
    "schedules",
    "settings_help",
    "tokenizers",
    "training_options",
]


def cells() -> list[str]:
    """The cell registry's names (``--cell``)."""
    from unrolled.cells.registry import CELLS

    return list(CELLS)


def tokenizers() -> list[str]:
    from unrolled.text.tokenize import TOKENIZERS

    return list(TOKENIZERS)


def optimizers() -> list[str]:
    from unrolled.train.optim import OPTIMIZERS

    return list(OPTIMIZERS)


def schedules() -> list[str]:
    from unrolled.train.schedule import SCHEDULES

    return list(SCHEDULES)


def metrics_formats() -> list[str]:
    from unrolled.train.config import METRICS_FORMATS

    return list(METRICS_FORMATS)


_T = "training"

_TRAINING: tuple[Option, ...] = (
    Option("--epochs", "passes over the data", "train.epochs", int, "N", group=_T),
    Option("--max-steps", "stop after N optimizer steps in total", "train.max_steps", int, "N", group=_T),
    Option("--max-time", "stop (with a checkpoint) after this long in this session", "train.max_time", float,
           "SECONDS", group=_T),
    Option("--lr", "learning rate", "train.lr", float, group=_T),
    Option("--optimizer", "optimizer", "train.optimizer", choices=optimizers, group=_T),
    Option("--schedule", "learning-rate schedule", "train.schedule", choices=schedules, group=_T),
    Option("--clip", "clip the global gradient norm", "train.clip_norm", float, "NORM", group=_T),
    Option("--clip-value", "clamp each gradient element to [-V, V]", "train.clip_value", float, "V", group=_T),
    Option("--l1", "L1 penalty on weight matrices", "train.l1", float, "LAMBDA", group=_T),
    Option("--l2", "L2 penalty on weight matrices", "train.l2", float, "LAMBDA", group=_T),
    Option("--patience", "early stopping: stop after N validations without gain", "train.early_stopping_patience",
           int, "N", group=_T),
    Option("--eval-every", "validate every N steps (default: each epoch)", "train.eval_every", int, "STEPS", group=_T),
    Option("--metrics-format", "RUN/metrics.csv or .jsonl (default csv)", "train.metrics_format",
           choices=metrics_formats, group=_T),
    Option("--tensorboard", "also log to RUN/tensorboard (default off)", "train.tensorboard", switch=True, group=_T),
    Option("--seed", "random seed (default 0)", "train.seed", int, group=_T),
    Option("--device", "cpu, cuda, cuda:N or auto (default)", "train.device", group=_T),
)  # fmt: skip


def training_options(**help_for: str) -> tuple[Option, ...]:
    """The ``train`` section's options (a :class:`~unrolled.train.TrainConfig` field each); ``help_for`` replaces
    the help of some, by ``dest`` (e.g. ``epochs="passes over the data (default 3)"``)."""
    unknown = set(help_for) - {o.dest for o in _TRAINING}
    if unknown:
        raise ValueError(f"no training option named {', '.join(sorted(unknown))}")
    return tuple(dataclasses.replace(o, help=help_for.get(o.dest, o.help)) for o in _TRAINING)


#: training options that ``--resume`` accepts (they extend the schedule, never the model or the data)
RESUME_OPTIONS = ("epochs", "max_steps", "max_time", "device")
#: ``--set`` keys that ``--resume`` accepts
RESUME_KEYS = (
    "train.epochs",
    "train.max_steps",
    "train.max_time",
    "train.device",
    "train.progress",
    "train.plot",
    "train.log_every",
)


def settings_help(task: Task) -> str:
    """Every ``--set`` key of ``task`` with its default, from its config dataclasses (``auto`` for a key whose
    default the task resolves from other keys)."""
    from unrolled.tasks.resolve import default_raw

    cfg = task.config_type()
    raw = default_raw(task)
    lines = []
    for section in dataclasses.fields(cfg):
        obj = getattr(cfg, section.name)
        if not dataclasses.is_dataclass(obj):
            continue
        items = []
        for f in dataclasses.fields(obj):
            if not f.init:
                continue
            value: Any = getattr(obj, f.name)
            shown = json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"), default=str)
            if f.name not in raw.get(section.name, {}):
                shown = "auto"
            items.append(f"{f.name}={shown}")
        lines.append(
            textwrap.fill(
                " ".join(items), width=116, initial_indent=f"  {section.name + ':':8}", subsequent_indent=" " * 10
            )
        )
    return 'settings (--set SECTION.KEY=VALUE, or the same keys in a --config file; "name=default"):\n' + "\n".join(
        lines
    )
