"""Model-agnostic training engine: objectives, configuration, the training loop, checkpoints, DDP.

A task plugs in by writing an :class:`Objective` (``(model, batch, state) -> StepResult``) and handing it, the model
and an iterable of batches to a :class:`Trainer`::

    >>> from unrolled.train import StepResult, TrainConfig, Trainer
    >>> def objective(model, batch, state):
    ...     x, y = batch
    ...     logits, state = model(x, state)
    ...     return StepResult(F.cross_entropy(logits.flatten(0, 1), y.flatten()), y.numel(), state)
    >>> result = Trainer(model, objective, TrainConfig(epochs=5, carry_state=True, metric="ppl"),
    ...                  run_dir="runs/demo").fit(train_batches, valid_batches)

This package never imports ``unrolled.models``, ``unrolled.tasks``, ``unrolled.cli``, ``unrolled.layers`` or
``unrolled.cells``.
"""

from unrolled.state import detach_state, map_state
from unrolled.train.callbacks import Callback
from unrolled.train.checkpoint import (
    find_checkpoint,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
    save_model_weights,
)
from unrolled.train.config import TrainConfig
from unrolled.train.distributed import DistributedContext
from unrolled.train.errors import CheckpointError, TrainingDiverged
from unrolled.train.metrics import METRICS, metric_value
from unrolled.train.objective import Objective, StepResult
from unrolled.train.optim import OPTIMIZERS, build_optimizer
from unrolled.train.penalty import weight_penalty
from unrolled.train.schedule import SCHEDULES, build_schedule
from unrolled.train.seed import get_rng_state, seed_everything, set_rng_state
from unrolled.train.teacher_forcing import TEACHER_FORCING_SCHEDULES, build_teacher_forcing
from unrolled.train.trainer import Trainer, TrainResult, resolve_device

__all__ = [
    "TEACHER_FORCING_SCHEDULES",
    "build_teacher_forcing",
    "METRICS",
    "OPTIMIZERS",
    "SCHEDULES",
    "Callback",
    "CheckpointError",
    "DistributedContext",
    "Objective",
    "StepResult",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "build_optimizer",
    "build_schedule",
    "detach_state",
    "find_checkpoint",
    "get_rng_state",
    "load_checkpoint",
    "load_model_weights",
    "map_state",
    "metric_value",
    "resolve_device",
    "save_checkpoint",
    "save_model_weights",
    "seed_everything",
    "set_rng_state",
    "weight_penalty",
]
