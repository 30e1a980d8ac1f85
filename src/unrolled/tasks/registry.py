"""The tasks and their commands, found once: every package ``unrolled.tasks.NAME`` with a module ``task.py``.

``task.py`` defines ``TASK`` (a :class:`~unrolled.tasks.spec.Task`) and/or ``COMMANDS`` (extra top-level
:class:`~unrolled.tasks.spec.Command` s of a package that trains nothing). Adding a task is adding its package.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from unrolled.tasks.runs import RunError
from unrolled.tasks.spec import Command, Task

__all__ = ["all_commands", "get_task", "task_names", "tasks"]

#: listed first in ``unrolled train --help``: the main job
FIRST = "lm"


def _task_packages() -> list[str]:
    here = Path(__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if m.ispkg and (here / m.name / "task.py").is_file()]
    return sorted(names, key=lambda n: (n != FIRST, n))


@cache
def _modules() -> tuple[object, ...]:
    return tuple(importlib.import_module(f"unrolled.tasks.{name}.task") for name in _task_packages())


def tasks() -> dict[str, Task]:
    """Every trainable task by name (the main job first)."""
    found: dict[str, Task] = {}
    for module in _modules():
        task = getattr(module, "TASK", None)
        if task is not None:
            if task.name in found:
                raise RuntimeError(f"two task packages declare the task {task.name!r}")
            found[task.name] = task
    return found


def task_names() -> list[str]:
    return list(tasks())


def get_task(name: str) -> Task:
    """The task called ``name``; a one-line :class:`RunError` naming the known tasks otherwise."""
    known = tasks()
    if name not in known:
        raise RunError(f"unknown task {name!r}; expected one of {', '.join(known)}")
    return known[name]


def all_commands() -> list[Command]:
    """The extra top-level commands of every task package, in task order."""
    commands: list[Command] = []
    for module in _modules():
        task = getattr(module, "TASK", None)
        if task is not None:
            commands.extend(task.commands)
        commands.extend(getattr(module, "COMMANDS", ()))
    names = [c.name for c in commands]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RuntimeError(f"commands declared twice by the task packages: {', '.join(dup)}")
    return commands
