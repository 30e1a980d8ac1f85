"""``TrainConfig``: every knob of the training loop in one typed, validated dataclass.

Names that select an implementation (``optimizer``, ``schedule``, ``metric``, ``metrics_format``) are checked here
against the registries that resolve them, so a typo fails at construction with a one-line error instead of deep in
the loop. ``to_dict()`` / ``from_dict()`` round-trip through JSON; ``from_dict`` rejects unknown keys.

Example::

    >>> cfg = TrainConfig(epochs=13, lr=1.0, optimizer="sgd", clip_norm=5.0, schedule="step",
    ...                   lr_decay=2.0, lr_decay_start=4, carry_state=True, metric="ppl")
    >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from unrolled.train.metrics import METRICS
from unrolled.train.optim import OPTIMIZERS
from unrolled.train.schedule import SCHEDULES

__all__ = ["METRICS_FORMATS", "TrainConfig"]

METRICS_FORMATS = ("csv", "jsonl")
_DEVICE = re.compile(r"^(cpu|cuda|auto|cuda:\d+)$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not _is_int(value) or value < minimum:
        raise ValueError(f"TrainConfig.{name}: expected an int >= {minimum}, got {value!r}")


def _check_float(name: str, value: Any, minimum: float, strict: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"TrainConfig.{name}: expected a finite number {bound}, got {value!r}")
    return float(value)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"TrainConfig.{name}: expected true or false, got {value!r}")


def _check_choice(name: str, value: Any, choices: Any) -> None:
    if value not in choices:
        raise ValueError(f"TrainConfig.{name}: expected one of {', '.join(choices)}, got {value!r}")


#: the largest float32: a learning rate above it cannot enter a float32 update
FLOAT32_MAX = 3.4028234663852886e38


@dataclass
class TrainConfig:
    """Configuration of :class:`~unrolled.train.Trainer`.

    Args:
        epochs: passes over the training data.
        max_steps: stop after this many optimizer steps in total (``None``: no limit).
        max_time: stop after this many seconds of training in this session, i.e. this call of ``fit`` (``None``: no
            limit); a run stopped by it and resumed trains for another ``max_time`` seconds. The run is checkpointed
            and, when it has validation data, validated once more so that its best weights account for the last step
            (that extra pass does not feed the schedule or early stopping).
        lr: initial learning rate.
        optimizer: ``sgd``, ``adam``, ``adamw``, ``adagrad`` or ``rmsprop`` (see :mod:`unrolled.train.optim`).
        momentum: momentum of ``sgd`` / ``rmsprop``.
        weight_decay: the optimizer's own weight decay (all parameters).
        betas: Adam's :math:`(\\beta_1, \\beta_2)`; ``rmsprop`` uses ``betas[1]`` as its smoothing constant.
        nonmono: ``ntasgd``: the non-monotone interval :math:`n` of the averaging trigger, in validations
            (Merity et al. 2018 use 5; see :mod:`unrolled.train.ntasgd`).
        clip_norm: rescale the gradient so that its global L2 norm is at most this (Pascanu et al. 2013).
        clip_value: clamp every gradient element to ``[-clip_value, clip_value]`` (applied before ``clip_norm``).
        l1: coefficient :math:`\\lambda_1` of the penalty :math:`\\lambda_1 \\sum |w|` over weight matrices.
        l2: coefficient :math:`\\lambda_2` of the penalty :math:`\\lambda_2 \\sum w^2` over weight matrices
            (gradient :math:`2 \\lambda_2 w`); both penalties cover parameters with ``dim() >= 2`` only, see
            :mod:`unrolled.train.penalty`.
        schedule: ``constant``, ``step``, ``cosine`` or ``plateau`` (see :mod:`unrolled.train.schedule`).
        lr_decay: divisor of the learning rate for ``step`` and ``plateau`` (``> 1``).
        lr_step_epochs: ``step``: epochs between two divisions.
        lr_decay_start: ``step``: epochs trained at the initial rate before the first division
            (default ``lr_step_epochs``).
        lr_patience: ``plateau``: evaluations without improvement tolerated before dividing.
        min_lr: floor of the learning rate (``step``, ``cosine``, ``plateau``).
        early_stopping_patience: stop when the validation loss has not improved by more than ``min_delta`` for
            this many evaluations in a row (``None``: never stop early).
        min_delta: improvement below this does not count (early stopping, ``plateau``, best model).
        seed: seed of the Python, NumPy and torch generators at the start of a fresh run (``seed + rank`` under
            distributed training).
        carry_state: pass the recurrent state returned for a batch, detached, to the next batch (truncated BPTT).
        log_every: write a training row to the metrics file every this many steps.
        eval_every: ``"epoch"`` to validate at each epoch end, or a number of steps.
        checkpoint_every: also checkpoint every this many steps (a checkpoint is always written at each epoch end
            and when training stops).
        checkpoint_on_error: when an unexpected exception (a failing callback, a bug in an objective) stops
            training, first checkpoint the last completed step, then re-raise. A diverged run
            (:class:`~unrolled.train.errors.TrainingDiverged`) never overwrites its last good checkpoint.
        metric: ``loss``, ``ppl`` or ``bpc``: shown next to the loss (see :mod:`unrolled.train.metrics`).
        metrics_format: ``csv`` or ``jsonl`` for ``run_dir/metrics.*``.
        tensorboard: also log scalars with ``torch.utils.tensorboard`` to ``run_dir/tensorboard``.
        plot: write the loss curve ``run_dir/loss.png`` at each epoch end.
        progress: show a tqdm progress bar.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when available); the device it resolved to is
            saved as ``runtime.device`` in the run's ``config.json``.
    """

    epochs: int = 10
    max_steps: int | None = None
    max_time: float | None = None
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    nonmono: int = 5
    clip_norm: float | None = None
    clip_value: float | None = None
    l1: float = 0.0
    l2: float = 0.0
    schedule: str = "constant"
    lr_decay: float = 4.0
    lr_step_epochs: int = 1
    lr_decay_start: int | None = None
    lr_patience: int = 0
    min_lr: float = 0.0
    early_stopping_patience: int | None = None
    min_delta: float = 0.0
    seed: int = 0
    carry_state: bool = False
    log_every: int = 50
    eval_every: int | str = "epoch"
    checkpoint_every: int | None = None
    checkpoint_on_error: bool = True
    metric: str = "loss"
    metrics_format: str = "csv"
    tensorboard: bool = False
    plot: bool = True
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, 1)
        if self.max_steps is not None:
            _check_int("max_steps", self.max_steps, 1)
        if self.max_time is not None:
            self.max_time = _check_float("max_time", self.max_time, 0.0, strict=True)
        self.lr = _check_float("lr", self.lr, 0.0, strict=True)
        if self.lr > FLOAT32_MAX:  # optimizers multiply it into float32 tensors: it must fit there
            raise ValueError(
                f"TrainConfig.lr: expected a number <= {FLOAT32_MAX:.4g} (the float32 range), got {self.lr!r}"
            )
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        self.momentum = _check_float("momentum", self.momentum, 0.0)
        self.weight_decay = _check_float("weight_decay", self.weight_decay, 0.0)
        betas = self.betas
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0.0 <= b < 1.0 for b in betas)
        ):
            raise ValueError(f"TrainConfig.betas: expected two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        _check_int("nonmono", self.nonmono, 1)
        if self.clip_norm is not None:
            self.clip_norm = _check_float("clip_norm", self.clip_norm, 0.0, strict=True)
        if self.clip_value is not None:
            self.clip_value = _check_float("clip_value", self.clip_value, 0.0, strict=True)
        self.l1 = _check_float("l1", self.l1, 0.0)
        self.l2 = _check_float("l2", self.l2, 0.0)
        _check_choice("schedule", self.schedule, SCHEDULES)
        self.lr_decay = _check_float("lr_decay", self.lr_decay, 1.0, strict=True)
        _check_int("lr_step_epochs", self.lr_step_epochs, 1)
        if self.lr_decay_start is not None:
            _check_int("lr_decay_start", self.lr_decay_start, 0)
        _check_int("lr_patience", self.lr_patience, 0)
        self.min_lr = _check_float("min_lr", self.min_lr, 0.0)
        if self.min_lr > self.lr:
            raise ValueError(f"TrainConfig.min_lr: expected at most lr={self.lr}, got {self.min_lr}")
        if self.early_stopping_patience is not None:
            _check_int("early_stopping_patience", self.early_stopping_patience, 1)
        self.min_delta = _check_float("min_delta", self.min_delta, 0.0)
        _check_int("seed", self.seed, 0)
        _check_bool("carry_state", self.carry_state)
        _check_int("log_every", self.log_every, 1)
        if self.eval_every != "epoch" and (not _is_int(self.eval_every) or self.eval_every < 1):
            raise ValueError(f"TrainConfig.eval_every: expected 'epoch' or an int >= 1, got {self.eval_every!r}")
        if self.checkpoint_every is not None:
            _check_int("checkpoint_every", self.checkpoint_every, 1)
        _check_choice("metric", self.metric, METRICS)
        _check_choice("metrics_format", self.metrics_format, METRICS_FORMATS)
        for name in ("checkpoint_on_error", "tensorboard", "plot", "progress"):
            _check_bool(name, getattr(self, name))
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ValueError(f"TrainConfig.device: expected cpu, cuda, cuda:N or auto, got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field (``betas`` as a list)."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build a config from a mapping; unknown keys raise a one-line ``ValueError`` listing the valid ones."""
        if not isinstance(data, Mapping):
            raise TypeError(f"TrainConfig.from_dict: expected a mapping, got {type(data).__name__}")
        valid = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in valid:
                raise ValueError(f"unknown TrainConfig key {key!r}; valid keys: {', '.join(valid)}")
        return cls(**data)
