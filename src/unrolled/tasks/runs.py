"""Run folders, shared by every task: naming, checks, the lock, the recorded config, which weights to load.

A run folder holds ``config.json`` (``"task"``: the task's name, the resolved config sections, and what the task
adds: the data's source and digest, vocabulary sizes, ``runtime``), the task's own files (vocabularies...),
``metrics.csv``, ``loss.png``, ``best/`` (the best validation weights and ``meta.json``) and ``checkpoint/`` (the
trainer's exact resume point). While a process trains it, the folder is locked (``.lock``, holding the PID).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unrolled.errors import UnrolledError
from unrolled.train.checkpoint import find_checkpoint, read_json

__all__ = [
    "LOCK_FILE",
    "RunError",
    "RunLock",
    "WeightsChoice",
    "check_new_run_dir",
    "choose_weights",
    "holds_run_files",
    "latest_run",
    "new_run_dir",
    "read_best_meta",
    "read_input",
    "read_run_config",
    "remove_run_files",
]

#: the lock file of a run folder in use (its content: the PID of the process holding it)
LOCK_FILE = ".lock"


class RunError(UnrolledError, ValueError):
    """A run folder that is missing, incomplete, in use, or of another task (one-line message)."""


def new_run_dir(root: str | Path = "runs", prefix: str = "run") -> Path:
    """A fresh folder ``root/prefix-YYYYmmdd-HHMMSS`` (suffixed if taken): never overwrites an earlier run."""
    root = Path(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{prefix}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{prefix}-{stamp}-{n}"
    return path


def latest_run(root: str | Path = "runs", task: str | None = None) -> Path:
    """The most recently modified run folder under ``root`` (of ``task`` if given)."""
    root = Path(root)
    runs = [p for p in root.glob("*") if (p / "config.json").is_file()] if root.is_dir() else []
    if task is not None:
        runs = [p for p in runs if _recorded_task(p) == task]
    if not runs:
        what = f"no {task} run" if task else "no run"
        train = f"'unrolled train {task}'" if task else "'unrolled train TASK'"
        raise RunError(f"{what} found under {root}/; train one with {train} or pass a RUN folder")
    return max(runs, key=lambda p: (p / "config.json").stat().st_mtime)


def _recorded_task(run_dir: Path) -> str | None:
    try:
        raw = read_json(run_dir / "config.json")
    except (OSError, ValueError):
        return None
    return raw.get("task") if isinstance(raw, dict) else None


def holds_run_files(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds anything but a lock file (a folder that does not exist holds nothing)."""
    return run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir())


def check_new_run_dir(run_dir: Path) -> None:
    """A new run needs a new or empty folder (never mix two runs)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} is a file; expected a new or empty folder for the run")
    if holds_run_files(run_dir):
        raise RunError(
            f"run folder {run_dir} already holds files; pass --resume {run_dir} to continue that run, or choose "
            "another --run-dir (nothing was changed)"
        )


def remove_run_files(run_dir: Path, keep_folder: bool) -> None:
    """Remove what a run that failed before its first checkpoint wrote (its folder was new or empty)."""
    if not keep_folder:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for child in run_dir.iterdir():  # the lock file too: the folder is left as the user made it
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def read_run_config(run_dir: str | Path, task: str | None = None) -> dict[str, Any]:
    """``run_dir/config.json`` as a dict, checked: the folder exists, it is a run, and (if ``task`` is given) a run
    of that task."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        train = f"'unrolled train {task}'" if task else "'unrolled train'"
        raise RunError(f"{run_dir} is a file, not a run folder; expected a folder written by {train}")
    if not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} does not exist")
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run folder: it has no config.json")
    raw = read_json(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("task"), str):
        raise RunError(f'{path}: not a run configuration (expected an object with "task": NAME)')
    if task is not None and raw["task"] != task:
        raise RunError(f'{path}: a {raw["task"]} run, not a {task} run (expected "task": "{task}")')
    return raw


def read_best_meta(run_dir: Path) -> dict[str, Any] | None:
    """``best/meta.json`` (the best validation step, epoch and loss), checked; ``None`` if there is none yet."""
    meta = run_dir / "best" / "meta.json"
    if not meta.is_file():
        return None
    best = read_json(meta)
    if not isinstance(best, dict) or not isinstance(best.get("valid_loss"), (int, float)):
        raise RunError(f"{meta}: expected {{'step', 'epoch', 'valid_loss'}} written by the run")
    return best


@dataclass(frozen=True)
class WeightsChoice:
    """The weights file to load, which kind it is (``best`` or ``last``), and a note when it is not what was
    asked for (to be shown to the user)."""

    path: Path
    kind: str
    note: str | None = None


def choose_weights(run_dir: Path, which: str = "best", filename: str = "model.safetensors") -> WeightsChoice:
    """The best validation weights (``which="best"``) or the latest checkpoint's (``"last"``); when the one asked
    for is missing the other is used, and :attr:`WeightsChoice.note` says so."""
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    ckpt = find_checkpoint(run_dir)
    options = {"best": run_dir / "best" / filename, "last": ckpt / filename if ckpt else None}
    wanted = options[which]
    if wanted is not None and wanted.is_file():
        return WeightsChoice(wanted, which)
    other = "last" if which == "best" else "best"
    fallback = options[other]
    if fallback is None or not fallback.is_file():
        raise RunError(f"{run_dir} has no weights yet (no best/ or checkpoint/ folder)")
    asked = "best validation weights (best/)" if which == "best" else "latest checkpoint"
    used = "the latest checkpoint" if other == "last" else "the best validation weights"
    return WeightsChoice(fallback, other, f"{run_dir} has no {asked}: using {used} ({fallback})")


def read_input(path: str | None) -> str:
    """The text of an input file, or of standard input for ``"-"`` (or ``None``), as UTF-8; one-line errors."""
    if path is None or path == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
        where = "standard input"
    else:
        p = Path(path)
        if not p.exists():
            raise RunError(f"input {path} does not exist")
        if not p.is_file():
            raise RunError(f"input {path} is not a regular file; expected a UTF-8 text file (or - for stdin)")
        data = p.read_bytes()
        where = str(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RunError(f"{where}: not UTF-8 text (invalid byte at line {line}); expected a UTF-8 file") from None


class RunLock:
    """An exclusive lock on a run folder for the life of the process (``with RunLock(run_dir): ...``).

    The lock is the operating system's (``flock`` on ``run_dir/.lock``): it is released when the process ends,
    however it ends, so a lock left by a killed process is free again and simply taken over. A second process gets
    one line naming the holder's PID. Where ``fcntl`` does not exist (Windows) the folder is not locked.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise self.in_use(holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def in_use(self, holder: str) -> RunError:
        return RunError(
            f"run folder {self.run_dir} is in use by process {holder} (another 'unrolled train' writes it); wait for "
            "it to finish or stop it, or choose another --run-dir"
        )

    def check_free(self) -> None:
        """Raise the one-line "in use by process PID" error if another process holds the lock now (the folder is
        left untouched: nothing is created)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        path = self.run_dir / LOCK_FILE
        if not path.is_file():
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            raise self.in_use(holder) from None
        finally:
            os.close(fd)  # releases the probe's shared lock

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
