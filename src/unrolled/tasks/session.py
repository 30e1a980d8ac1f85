"""One training session of a run, for every task: :func:`train_run` and the :class:`RunSession` a task trains in.

:func:`train_run` does what every task needs around its own training code: under ``torchrun`` only rank 0 checks,
locks and writes; a new run gets a new or empty folder (``runs/TASK-<timestamp>`` by default), a resumed run must be
a run of the same task; the folder is locked for the life of the process (:class:`~unrolled.tasks.runs.RunLock`);
a run resumed before its first checkpoint was written starts again from its saved configuration; and what a new
run wrote before failing ahead of its first checkpoint is removed again (a folder it found empty stays, empty).

Example (a task's ``train``)::

    def train_classifier(cfg, session):
        data = prepare(cfg.data)                                   # one-line errors before anything is written
        model = build(cfg.model, data)
        result = session.fit(model, objective, data.train, data.valid, cfg.train,
                             extra_config=session.record(cfg, labels=data.labels))
        return session.outcome(result)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unrolled.config_io import to_dict
from unrolled.layers.scan import double_backward
from unrolled.tasks.runs import (
    RunError,
    RunLock,
    check_new_run_dir,
    new_run_dir,
    read_run_config,
    remove_run_files,
)
from unrolled.tasks.spec import Task, TrainOutcome
from unrolled.train.checkpoint import find_checkpoint, write_json
from unrolled.train.config import TrainConfig
from unrolled.train.distributed import DistributedContext
from unrolled.train.tensorboard import check_tensorboard
from unrolled.train.trainer import Trainer, TrainResult, resolve_device

__all__ = ["RunSession", "train_run"]


def _silent(message: str) -> None:
    return None


@dataclass
class RunSession:
    """Where and how this process trains a run.

    Args:
        task: the task. run_dir: the run folder. resume: continue from the run's checkpoint.
        main: this process writes files and prints (rank 0, or the only process).
        dist: the distributed context under ``torchrun`` (``None`` otherwise).
        printer: where messages go (silent on the other ranks). progress_file: the progress bar's stream.
    """

    task: Task
    run_dir: Path
    resume: bool = False
    main: bool = True
    dist: DistributedContext | None = None
    printer: Callable[[str], None] = print
    progress_file: Any = None
    device_name: str = "auto"
    start_step: int = field(default=0, init=False)

    @cached_property
    def device(self) -> torch.device:
        """The device the run's ``train.device`` names on this machine (resolved on first use)."""
        if self.dist is None:
            return resolve_device(self.device_name)
        return resolve_device(self.device_name, self.dist.local_rank, self.dist.local_world_size)

    @property
    def resume_hint(self) -> str:
        return f"unrolled train {self.task.name} --resume {self.run_dir}"

    def print(self, message: str) -> None:
        self.printer(message)

    def record(self, cfg: Any, **extra: Any) -> dict[str, Any]:
        """The sections ``config.json`` records besides ``train``: ``"task"``, every other section of ``cfg``, what
        the task adds (``extra``: data source and digest, label sets...), and ``runtime``."""
        sections = {k: v for k, v in to_dict(cfg).items() if k != "train"}
        device = str(self.device) if "device" in self.__dict__ else None
        return {"task": self.task.name, **sections, **extra, "runtime": {"device": device, "torch": torch.__version__}}

    def write_config(self, cfg: Any, **extra: Any) -> None:
        """Write ``config.json`` for a model that is fitted rather than trained (rank 0)."""
        if not self.main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        train = getattr(cfg, "train", None)
        head = {"train": train.to_dict()} if isinstance(train, TrainConfig) else {}
        write_json(self.run_dir / "config.json", {**head, **self.record(cfg, **extra)})

    def path(self, name: str) -> Path:
        """``run_dir/name`` (the folder made on rank 0)."""
        if self.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        return self.run_dir / name

    def outcome(self, result: TrainResult, next_step: str | None = None) -> TrainOutcome:
        """What a session that trained returns: its result, best validation loss and starting step."""
        return TrainOutcome(self.run_dir, result, result.best_valid, self.main, self.start_step, next_step)

    def fit(
        self,
        model: nn.Module,
        objective: Any,
        train_data: Iterable[Any],
        valid_data: Iterable[Any] | None,
        config: TrainConfig,
        *,
        extra_config: dict[str, Any],
        callbacks: Sequence[Any] = (),
        eval_objective: Any = None,
    ) -> TrainResult:
        """Train ``model`` with the project's :class:`~unrolled.train.Trainer` in this run's folder; a resumed
        session first loads the checkpoint (``start_step`` then says where it was). The trainer's backward is
        first-order, so scan-path forwards keep no projected inputs for a double backward
        (:func:`~unrolled.layers.scan.double_backward`)."""
        trainer = Trainer(
            model,
            objective,
            config,
            run_dir=self.run_dir,
            callbacks=callbacks,
            eval_objective=eval_objective,
            extra_config=extra_config,
            distributed=self.dist,
            progress_file=self.progress_file,
            resume_hint=self.resume_hint,
        )
        with trainer, double_backward(False):
            if self.resume:
                trainer.resume()
                self.start_step = trainer.step
            return trainer.fit(train_data, valid_data)


def train_run(
    task: Task,
    cfg: Any,
    run_dir: str | Path | None = None,
    resume: bool = False,
    printer: Callable[[str], None] = print,
    progress_file: Any = None,
) -> TrainOutcome:
    """Train ``task`` with config ``cfg`` in ``run_dir`` (see the module docstring for what is done around it)."""
    dist = DistributedContext.from_env()
    main = dist is None or dist.rank == 0
    if dist is not None and run_dir is None and not resume:
        raise RunError("under torchrun pass --run-dir DIR so that all ranks write to the same run folder")
    if resume and run_dir is None:
        raise RunError("resume needs the run folder to continue")
    if not main:
        printer = _silent
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(prefix=task.name)
    lock = RunLock(run_dir) if main else None
    if lock is not None and run_dir.is_dir():
        lock.check_free()  # another process trains it now: say so (and by whom) before anything else
    if resume:
        read_run_config(run_dir, task.name)
    elif main:  # a late rank of a new run would find rank 0's files: only rank 0 checks it is empty
        check_new_run_dir(run_dir)
    train_cfg = getattr(cfg, "train", None)
    if isinstance(train_cfg, TrainConfig) and train_cfg.tensorboard:
        check_tensorboard()
    device_name = train_cfg.device if isinstance(train_cfg, TrainConfig) else "cpu"
    existed = run_dir.exists()
    if lock is not None:
        lock.acquire()
    try:
        if main and not resume:
            check_new_run_dir(run_dir)  # again, now that no other process can write it
        restart = resume and find_checkpoint(run_dir) is None and not (run_dir / "best").exists()
        if restart:  # killed before its first checkpoint: its saved config is all there is to continue from
            printer(
                f"{run_dir} stopped before its first checkpoint: training it again from the start with its saved "
                "configuration"
            )
            resume = False
        session = RunSession(task, run_dir, resume, main, dist, printer, progress_file, device_name)
        fresh = main and not resume and not restart  # the folder was new or empty: all it will hold is ours
        try:
            if fresh:  # the run is a run from its first moment: a kill at any point leaves a folder --resume takes
                write_json(run_dir / "config.json", {"task": task.name, **to_dict(cfg)})
            outcome = task.train(cfg, session)
        except BaseException:
            if fresh and run_dir.is_dir() and find_checkpoint(run_dir) is None and not (run_dir / "best").exists():
                remove_run_files(run_dir, keep_folder=existed)
            raise
        outcome.main = main
        return outcome
    finally:
        if lock is not None:
            lock.release()
