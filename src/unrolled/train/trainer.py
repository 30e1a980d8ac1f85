"""``Trainer``: the model-agnostic training loop.

One optimizer step on a batch :math:`b` with carried state :math:`s`:

.. math::

    (\\bar\\ell_b, n_b, s') = \\text{objective}(\\text{model}, b, s), \\qquad
    \\theta \\leftarrow \\text{opt}(\\theta, \\operatorname{clip}(\\nabla_\\theta[\\bar\\ell_b + \\Omega(\\theta)]))

with :math:`\\Omega` the L1/L2 penalty (:mod:`unrolled.train.penalty`). With ``carry_state`` the next batch receives
``detach_state(s')`` (truncated BPTT: gradients stop at batch boundaries, Williams & Peng 1990); the state is reset
to ``None`` at each epoch start, for a batch whose ``carry`` attribute is ``False``, and at the start of every
validation pass (which carries its own state from batch to batch). Reported losses are exact token-weighted means
:math:`\\sum_b \\bar\\ell_b n_b / \\sum_b n_b` of the data loss (penalty excluded).

Around that step the trainer handles: gradient clipping (``clip_value`` element-wise, then ``clip_norm`` on the
global norm, Pascanu et al. 2013), validation every epoch or every ``eval_every`` steps, the learning-rate
schedule, early stopping, the best-model weights, a progress bar, a metrics file, TensorBoard, the loss plot,
callbacks, distributed data parallel training, and checkpoints that resume *exactly*: a run stopped at any step
and resumed produces the same losses and bit-identical parameters as an uninterrupted run with the same seed.

No host synchronisation in the steady state: a step keeps its loss and gradient norm as device tensors; they are
read together (one device-to-host copy) every ``log_every`` steps (and at least every 256), at each progress-bar
refresh (at most twice a second), before validation, checkpoints and the end of an epoch or of ``fit``, and when a
callback looks at the ``loss`` / ``grad_norm`` / metric of ``on_step_end``'s ``metrics``. The sums behind the
logged losses are formed on the host from those values in step order, so the metrics file, the bar and the epoch
losses hold the same numbers as a loop that reads every step. Distributed training reads at the same steps on every
rank (every ``log_every`` steps and at least every 32, before validation, checkpoints and an epoch's end; no
time-based refresh): each step's loss and token count are all-reduced on the device without being read, and the
ranks agree on a stop request (Ctrl-C, ``kill``, ``max_time``, :meth:`Trainer.request_stop` on any rank) at those
read points, so a stop takes effect at most 32 steps after it was asked for.

How training ends (``TrainResult.stopped``): ``completed`` (all epochs), ``max_steps``, ``max_time``,
``early_stopping``, ``interrupted`` or ``requested`` (a callback called :meth:`Trainer.request_stop`). A NaN or
infinite loss (or gradient norm when it is computed: always with ``clip_norm``) raises
:class:`~unrolled.train.errors.TrainingDiverged` (one line: the first bad step, its epoch and batch, and where the
last good checkpoint is) at the next read, so the parameters in memory may have taken the bad step and a few more,
but no checkpoint and no best weights are written after it: that checkpoint is left as it was. Any other exception
(a failing callback, a bug in an objective) first writes a checkpoint at the last completed step
(``checkpoint_on_error``, on by default; single-process runs with a ``run_dir``; a step that raised is abandoned,
its random draws undone), then propagates, so the work done so far is not lost.

``max_time`` is a budget per call of :meth:`fit` (per session): a run stopped by it and resumed trains for another
``max_time`` seconds. The ``time`` column of the metrics file still counts the run's total training time.

Ctrl-C: while ``fit`` runs in the main thread, the first SIGINT lets the current step finish, then a checkpoint is
written at that position, one line says where it is and how to resume, and ``fit`` returns with
``stopped="interrupted"``; a second SIGINT raises ``KeyboardInterrupt`` at once. SIGTERM (what ``kill``, ``timeout``
and batch schedulers send) is handled the same way; ``TrainResult.signal`` says which one it was. A
``KeyboardInterrupt`` raised inside a step (another thread's signal handling, or code that raises it) abandons that
step: the checkpoint is written at the previous step with the torch generators reset to where the step began, so the
resumed run repeats the step exactly.

Exact resumption needs a deterministic data order: either derived from ``set_epoch`` (and ``iter_from``), or drawn
from the global generators when the epoch's iterator is created (``DataLoader(shuffle=True)``): on resume the
trainer recreates the iterator under the generator state saved at the epoch start, skips to the saved batch, then
restores the generators to the state of the checkpoint.

Example::

    >>> config = TrainConfig(epochs=13, lr=1.0, optimizer="sgd", clip_norm=5.0, schedule="plateau",
    ...                      carry_state=True, metric="ppl")
    >>> trainer = Trainer(model, lm_objective, config, run_dir="runs/ptb-small")
    >>> result = trainer.fit(train_batches, valid_batches)       # later: fit(..., resume=True)
    >>> result.best_valid, result.stopped
    (4.71, 'completed')
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unrolled.state import detach_state, map_state
from unrolled.train import distributed as dist_utils
from unrolled.train.batches import (
    batch_carries_state,
    data_length,
    epoch_iterator,
    move_to_device,
    shard_data,
)
from unrolled.train.checkpoint import load_checkpoint, save_checkpoint, save_model_weights, write_json
from unrolled.train.config import TrainConfig
from unrolled.train.distributed import DistributedContext
from unrolled.train.errors import CheckpointError, TrainingDiverged
from unrolled.train.metrics import metric_value
from unrolled.train.metrics_file import MetricsFile
from unrolled.train.objective import StepResult
from unrolled.train.optim import build_optimizer
from unrolled.train.penalty import weight_penalty
from unrolled.train.plot import plot_loss_curves
from unrolled.train.progress import ProgressBar, format_postfix
from unrolled.train.schedule import build_schedule
from unrolled.train.seed import RNGState, get_rng_state, seed_everything, set_rng_state
from unrolled.train.tensorboard import TensorBoardLogger, check_tensorboard

__all__ = ["TrainResult", "Trainer", "resolve_device"]

_PARTS = ("optimizer", "scheduler", "rng", "state", "progress")
_BAR_REFRESH_S = 0.5
_READ_EVERY = 256  # steps between reads of the device-side losses at the most (also read every log_every steps)
_DIST_READ_EVERY = 32  # the same under distributed training, where the ranks also agree on stopping at each read


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`.

    Args:
        history: one dict per completed epoch: ``epoch`` (1-based), ``step``, ``train_loss``, ``valid_loss``
            (last validation of the epoch, or ``None``), ``lr`` (rate used during the epoch).
        best_valid: lowest validation loss that counted as an improvement, or ``None``.
        best_step: step at which ``best_valid`` was reached.
        steps: optimizer steps taken in total.
        epochs: completed epochs.
        stopped: ``completed``, ``max_steps``, ``max_time``, ``early_stopping``, ``interrupted`` or ``requested``.
        checkpoint: the latest checkpoint folder, or ``None`` without a ``run_dir``.
        signal: the signal that stopped an ``interrupted`` run (``SIGINT`` = 2, ``SIGTERM`` = 15), or ``None``;
            a command line exits with 128 + signal, as a shell reports a process a signal ended.
    """

    history: list[dict[str, Any]]
    best_valid: float | None
    best_step: int | None
    steps: int
    epochs: int
    stopped: str
    checkpoint: Path | None = None
    signal: int | None = None

    @property
    def train_losses(self) -> list[float]:
        return [entry["train_loss"] for entry in self.history]

    @property
    def valid_losses(self) -> list[float | None]:
        return [entry["valid_loss"] for entry in self.history]


@dataclass
class _Progress:
    """Everything about the position of a run that a checkpoint must restore (saved as ``progress.json``)."""

    epoch: int = 0  # 0-based index of the current epoch
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # optimizer steps done in total
    epoch_loss_sum: float = 0.0
    epoch_count: int = 0
    interval_loss_sum: float = 0.0
    interval_count: int = 0
    last_valid: float | None = None
    last_valid_step: int | None = None
    best_valid: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    metrics_rows: int = 0
    elapsed: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    train_points: list[list[float]] = field(default_factory=list)
    epoch_points: list[list[float]] = field(default_factory=list)
    valid_points: list[list[float]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> _Progress:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise CheckpointError(f"{source}: expected training progress with keys {', '.join(sorted(names))}")
        for name in ("epoch", "batch", "step", "epoch_count", "interval_count", "bad_evals", "metrics_rows"):
            value = data[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CheckpointError(f"{source}: {name} must be an integer >= 0, got {value!r}")
        for name in ("epoch_loss_sum", "interval_loss_sum", "elapsed"):
            if not isinstance(data[name], (int, float)) or isinstance(data[name], bool):
                raise CheckpointError(f"{source}: {name} must be a number, got {data[name]!r}")
        for name in ("last_valid", "best_valid", "last_valid_step", "best_step"):
            if data[name] is not None and (not isinstance(data[name], (int, float)) or isinstance(data[name], bool)):
                raise CheckpointError(f"{source}: {name} must be a number or null, got {data[name]!r}")
        for name in ("history", "train_points", "epoch_points", "valid_points"):
            if not isinstance(data[name], list):
                raise CheckpointError(f"{source}: {name} must be a list, got {data[name]!r}")
        return cls(**data)


@dataclass(slots=True)
class _Pending:
    """One completed optimizer step whose loss (and gradient norm) may still be on the device: tensors until
    :meth:`Trainer._read_pending` replaces them by floats. ``step``, ``epoch`` and ``batch`` are 1-based."""

    loss: torch.Tensor | float
    norm: torch.Tensor | float | None
    count: torch.Tensor | int  # a device tensor under distributed training (the all-reduced count) until read
    step: int
    epoch: int
    batch: int
    read: bool = False


class _StepMetrics(Mapping[str, Any]):
    """``on_step_end``'s ``metrics``: plain numbers; the loss, metric and gradient norm are read from the device
    only when a callback looks at one of them (a callback that ignores them costs no synchronisation)."""

    def __init__(self, trainer: Trainer, entry: _Pending, fixed: dict[str, Any], metric: str) -> None:
        self._trainer, self._entry, self._fixed, self._metric = trainer, entry, fixed, metric
        self._keys = tuple(dict.fromkeys(("step", "epoch", "batch", "loss", "count", "lr", "grad_norm", metric)))
        self._values: dict[str, Any] | None = None

    def _resolve(self) -> dict[str, Any]:
        if self._values is None:
            if not self._entry.read:
                self._trainer._read_pending()
            loss = self._entry.loss
            self._values = {
                **self._fixed,
                "count": self._entry.count,
                "loss": loss,
                "grad_norm": self._entry.norm,
                self._metric: metric_value(self._metric, loss),
            }
        return self._values

    def __getitem__(self, key: str) -> Any:
        if key in self._fixed:
            return self._fixed[key]
        if key not in self._keys:
            raise KeyError(key)
        return self._resolve()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return repr(dict(self))


def _read_scalars(tensors: list[torch.Tensor]) -> list[float]:
    """The values of 0-dim tensors as Python floats, in order, with one device-to-host copy per device."""
    if not tensors:
        return []
    device = tensors[0].device
    if all(t.device == device for t in tensors):
        return torch.stack(tensors).tolist()
    values: list[float] = [0.0] * len(tensors)
    for where in dict.fromkeys(t.device for t in tensors):
        places = [i for i, t in enumerate(tensors) if t.device == where]
        for i, value in zip(places, torch.stack([tensors[i] for i in places]).tolist(), strict=True):
            values[i] = value
    return values


def _rng_to_tree(state: RNGState) -> dict[str, Any]:
    return {"torch_cpu": state.torch_cpu, "torch_cuda": state.torch_cuda, "numpy": state.numpy, "python": state.python}


def _rng_from_tree(tree: dict[str, Any]) -> RNGState:
    python = tree["python"]
    return RNGState(
        torch_cpu=tree["torch_cpu"],
        torch_cuda=tree["torch_cuda"],
        numpy=tuple(tree["numpy"]),
        python=(python[0], tuple(python[1]), python[2]),
    )


def resolve_device(name: str, local_rank: int | None = None, local_world_size: int | None = None) -> torch.device:
    """The device ``TrainConfig.device`` names on this machine.

    ``auto`` is CUDA when available, else the CPU. Under distributed training (``local_rank`` given: one of
    ``local_world_size`` processes on this machine, default ``LOCAL_WORLD_SIZE`` from ``torchrun``'s environment)
    ``auto`` and plain ``cuda`` mean one process per GPU, ``cuda:local_rank``, which needs
    ``local_world_size <= torch.cuda.device_count()``; ``cpu`` trains on the CPU (the ``gloo`` backend).

    Raises:
        ValueError: one line, for CUDA on a machine without it, for more processes on this machine than GPUs
            (naming both numbers and the two ways out), or for ``cuda:N`` beyond the GPUs there are.
    """
    requested = name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if not name.startswith("cuda"):
        return torch.device(name)
    if not torch.cuda.is_available():
        raise ValueError(f"TrainConfig.device={requested!r} but CUDA is not available; use device='cpu' or 'auto'")
    gpus = torch.cuda.device_count()
    if name == "cuda" and local_rank is not None:
        if local_world_size is None:
            local_world_size = dist_utils.local_world_size_from_env(local_rank)
        if local_world_size > gpus:
            raise ValueError(
                f"{local_world_size} processes on this node but {gpus} GPU{'' if gpus == 1 else 's'}: "
                f"run torchrun --nproc-per-node {gpus}, or pass --device cpu for gloo on the CPU"
            )
        name = f"cuda:{local_rank}"
    device = torch.device(name)
    index = torch.cuda.current_device() if device.index is None else device.index
    if index >= gpus:
        raise ValueError(
            f"TrainConfig.device={requested!r} resolves to cuda:{index} but this machine has {gpus} "
            f"GPU{'' if gpus == 1 else 's'} (cuda:0 to cuda:{gpus - 1})"
        )
    return torch.device("cuda", index)


class Trainer:
    """Trains ``model`` by minimising ``objective`` over batches; see the module docstring.

    Args:
        model: the module to train (moved to ``config.device``; wrapped in ``DistributedDataParallel`` under
            distributed training, the unwrapped module stays available as ``trainer.model``).
        objective: ``(model, batch, state) -> StepResult`` (:mod:`unrolled.train.objective`).
        config: :class:`~unrolled.train.config.TrainConfig`.
        run_dir: folder for ``config.json``, metrics, plot, best weights and checkpoints (``None``: write nothing).
        callbacks: objects with any of the hooks of :class:`~unrolled.train.callbacks.Callback`.
        eval_objective: objective for validation; default: ``objective.evaluate_batch`` if the objective has
            one, else ``objective``. Always called under ``torch.no_grad()`` with the model in ``eval()`` mode.
        extra_config: more JSON-ready sections for ``config.json`` (e.g. ``{"model": {...}, "data": {...}}``);
            ``train`` is reserved for ``config``.
        distributed: a :class:`~unrolled.train.distributed.DistributedContext`; default: from the environment
            when launched by ``torchrun`` with ``WORLD_SIZE > 1``, else single-process.
        progress_file: stream for the progress bar and messages (default ``sys.stderr``).
        resume_hint: how to resume, printed after Ctrl-C (e.g. the CLI command); default
            ``"fit(..., resume=True)"``.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Any,
        config: TrainConfig,
        run_dir: str | Path | None = None,
        callbacks: Sequence[Any] = (),
        eval_objective: Any = None,
        extra_config: dict[str, Any] | None = None,
        distributed: DistributedContext | None = None,
        progress_file: Any = None,
        resume_hint: str | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"Trainer: expected model to be a torch.nn.Module, got {type(model).__name__}")
        if not callable(objective):
            raise TypeError(
                f"Trainer: expected objective to be callable (model, batch, state) -> StepResult, "
                f"got {type(objective).__name__}"
            )
        if eval_objective is not None and not callable(eval_objective):
            raise TypeError(f"Trainer: expected eval_objective to be callable, got {type(eval_objective).__name__}")
        if not isinstance(config, TrainConfig):
            raise TypeError(f"Trainer: expected config to be a TrainConfig, got {type(config).__name__}")
        extra_config = dict(extra_config or {})
        if "train" in extra_config:
            raise ValueError("Trainer: extra_config must not have a 'train' section (it holds the TrainConfig)")
        try:
            json.dumps(extra_config)
        except (TypeError, ValueError) as err:
            raise TypeError(f"Trainer: extra_config must be JSON-serializable ({err})") from None
        if run_dir is None and (config.tensorboard or config.checkpoint_every is not None):
            raise ValueError("Trainer: tensorboard and checkpoint_every need a run_dir to write to")
        if distributed is not None and not isinstance(distributed, DistributedContext):
            raise TypeError(
                f"Trainer: expected distributed to be a DistributedContext or None, got {type(distributed).__name__}"
            )

        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks)
        self.objective = objective
        if eval_objective is None:
            eval_objective = getattr(objective, "evaluate_batch", None) or objective
        self.eval_objective = eval_objective
        self.extra_config = extra_config
        self.resume_hint = resume_hint or "fit(..., resume=True)"
        self.dist = distributed if distributed is not None else DistributedContext.from_env()
        self.device = self._resolve_device()
        self._params = [p for p in model.parameters() if p.requires_grad]
        if not self._params:
            raise ValueError("Trainer: the model has no trainable parameters (requires_grad=True)")
        self._owns_group = False
        if self.dist is not None:
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            self._owns_group = dist_utils.init_process_group(self.dist, self.device)

        self.model = model.to(self.device)  # in place for modules: the parameters listed above are still these
        self.train_model: nn.Module = self.model
        if self.dist is not None:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        self.optimizer = build_optimizer(self._params, config)
        self.schedule = build_schedule(self.optimizer, config)

        self._progress = _Progress()
        self._state: Any = None
        self._epoch_rng: RNGState | None = None
        self._resume_rng: dict[str, RNGState] | None = None
        self._resumed = False
        self._stop_reason: str | None = None
        self._signal: int | None = None
        self._pending_stop: str | None = None
        self._step_snapshot: RNGState | None = None
        self._saved_at: tuple[int, int, int] | None = None
        self._checkpoint_path: Path | None = None
        self._bar = ProgressBar(enabled=config.progress and self.is_main, file=progress_file)
        self._metrics_file: MetricsFile | None = None
        self._tensorboard: TensorBoardLogger | None = None
        self._elapsed_base = 0.0
        self._fit_t0 = self._interval_t0 = self._bar_t0 = time.perf_counter()
        self._bar_loss_sum, self._bar_count = 0.0, 0
        self._pending: list[_Pending] = []  # completed steps whose loss / gradient norm are not read yet

    # ------------------------------------------------------------------ small public helpers
    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0, or the only process)."""
        return self.dist is None or self.dist.is_main

    @property
    def rank(self) -> int:
        return 0 if self.dist is None else self.dist.rank

    @property
    def lr(self) -> float:
        """Current learning rate (of the first parameter group)."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return self._progress.step

    @property
    def epoch(self) -> int:
        """0-based index of the current epoch."""
        return self._progress.epoch

    def print(self, message: str) -> None:
        """Print one line above the progress bar (rank 0 only)."""
        if self.is_main:
            self._bar.write(message)

    def request_stop(self, reason: str = "requested") -> None:
        """Stop training after the current step (``TrainResult.stopped == reason``; under distributed training
        the ranks agree at the next read point, at most 32 steps later, and the reason is ``requested`` or
        ``interrupted``)."""
        if self.dist is None:
            self._stop_reason = reason
        else:  # agreed on by all ranks at the next read point (_agree_stop)
            self._pending_stop = reason

    def close(self) -> None:
        """Destroy the process group if this trainer created it."""
        if self._owns_group:
            dist_utils.destroy_process_group()
            self._owns_group = False

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _resolve_device(self) -> torch.device:
        if self.dist is None:
            return resolve_device(self.config.device)
        return resolve_device(self.config.device, self.dist.local_rank, self.dist.local_world_size)

    def _emit(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(self, *args)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, data: Iterable[Any]) -> float:
        """Token-weighted mean loss :math:`\\sum_b \\bar\\ell_b n_b / \\sum_b n_b` of the eval objective over
        ``data`` (no gradients, ``eval()`` mode, state carried across batches when ``carry_state``). Under
        distributed training, data with ``shard`` is sharded and the sums are all-reduced."""
        sharded = self.dist is not None and hasattr(data, "shard")
        if sharded:
            data = shard_data(data, self.dist.rank, self.dist.world_size, "valid")
        return self._evaluate(data, reduce=sharded)

    def _evaluate(self, data: Iterable[Any], reduce: bool) -> float:
        was_training = self.model.training
        self.model.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        count = 0
        state = None
        try:
            with torch.no_grad():
                for batch in data:
                    carried = state if self.config.carry_state and batch_carries_state(batch) else None
                    result = self._check_result(
                        self.eval_objective(self.model, move_to_device(batch, self.device), carried), "eval_objective"
                    )
                    loss_sum += result.loss.detach().double() * result.count
                    count += result.count
                    state = result.state if self.config.carry_state else None
        finally:
            self.model.train(was_training)
        totals = torch.stack([loss_sum, torch.tensor(float(count), dtype=torch.float64, device=self.device)])
        if reduce:
            dist_utils.all_reduce_sum(totals)
        loss_total, count_total = totals.tolist()
        if count_total == 0:
            raise ValueError("evaluate: expected data with at least one batch, got none")
        return loss_total / count_total

    @staticmethod
    def _check_result(result: Any, name: str) -> StepResult:
        if not isinstance(result, StepResult):
            raise TypeError(f"{name} must return a StepResult(loss, count, state), got {type(result).__name__}")
        return result

    # ------------------------------------------------------------------ checkpoints
    def resume(self, run_dir: str | Path | None = None) -> Path:
        """Load the latest checkpoint of ``run_dir`` (default: this trainer's) so that the next :meth:`fit`
        continues exactly where it stopped. Returns the checkpoint folder.

        Raises:
            FileNotFoundError: there is no checkpoint.
            CheckpointError: the checkpoint is incomplete, corrupt, or does not match the model / optimizer.
        """
        path = Path(run_dir) if run_dir is not None else self.run_dir
        if path is None:
            raise ValueError("Trainer.resume: expected a run_dir (none given here or to the Trainer)")
        folder, parts = load_checkpoint(path, self.model, _PARTS)
        for part, field_name, target in (
            ("optimizer", "optimizer", self.optimizer),
            ("scheduler", "schedule", self.schedule),
        ):
            saved, source = parts[part], folder / f"{part}.json"
            current = getattr(self.config, field_name)
            if not isinstance(saved, dict) or set(saved) != {"name", "state"}:
                raise CheckpointError(f"{source}: expected {{'name', 'state'}} of the {part}")
            if saved["name"] != current:
                raise CheckpointError(
                    f"{source}: saved for {field_name} {saved['name']!r}, but TrainConfig.{field_name} is {current!r}"
                )
            try:
                target.load_state_dict(saved["state"])
            except (ValueError, KeyError, TypeError, RuntimeError) as err:
                first = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise CheckpointError(f"{source}: does not match this {part} ({first})") from None
        progress = _Progress.from_dict(parts["progress"], str(folder / "progress.json"))
        ranks = len(parts["rng"])
        if ranks != len(parts["state"]) or ranks == 0:
            raise CheckpointError(f"{folder}: rng.json and state.json must hold one entry per rank")
        entry = self.rank % ranks
        rng = parts["rng"][entry]
        self._resume_rng = {"now": _rng_from_tree(rng["now"]), "epoch_start": _rng_from_tree(rng["epoch_start"])}
        self._state = map_state(lambda t: t.to(self.device), parts["state"][entry])
        self._progress = progress
        self._saved_at = (progress.epoch, progress.batch, progress.step)
        self._checkpoint_path = folder
        self._resumed = True
        return folder

    def _checkpoint(self) -> None:
        """Write the current position as ``run_dir/checkpoint`` (rank 0 writes; every rank contributes its RNG
        and carried state)."""
        p = self._progress
        if self.run_dir is None or self._saved_at == (p.epoch, p.batch, p.step):
            return
        with self._not_training():
            self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        self._read_pending()  # the sums it saves; a diverged step raises before anything is written
        p = self._progress
        p.elapsed = self._elapsed()
        rng = get_rng_state()
        entry = (
            {"now": _rng_to_tree(rng), "epoch_start": _rng_to_tree(self._epoch_rng or rng)},
            map_state(lambda t: t.detach().cpu(), self._state),
        )
        entries = [entry] if self.dist is None else dist_utils.all_gather_objects(entry, self.dist.world_size)
        if self.is_main:
            parts = {
                "optimizer": {"name": self.config.optimizer, "state": self.optimizer.state_dict()},
                "scheduler": {"name": self.config.schedule, "state": self.schedule.state_dict()},
                "rng": [rng_entry for rng_entry, _ in entries],
                "state": [state for _, state in entries],
                "progress": dataclasses.asdict(p),
            }
            self._checkpoint_path = save_checkpoint(self.run_dir, self.model, parts)
        if self.dist is not None:
            dist_utils.barrier()
            if self._checkpoint_path is None:
                self._checkpoint_path = self.run_dir / "checkpoint"
        self._saved_at = (p.epoch, p.batch, p.step)

    def _save_after_error(self) -> None:
        """An unexpected exception stopped ``fit``: checkpoint the last completed step (then the caller re-raises).
        A step that raised is abandoned (its torch random draws undone); under distributed training nothing is
        written, since the other ranks may be inside a collective."""
        if self._step_snapshot is not None:
            set_rng_state(self._step_snapshot)
            self._step_snapshot = None
        if self.run_dir is None or self.dist is not None or (self._progress.step == 0 and not self._resumed):
            return
        try:
            self._checkpoint()
        except Exception as err:  # never hide the original error behind one from saving
            self.print(f"could not save a checkpoint after the error: {type(err).__name__}: {err}")
            return
        p = self._progress
        self.print(
            f"stopped by an error at epoch {p.epoch + 1}, batch {p.batch} (step {p.step}); checkpoint saved to "
            f"{self._checkpoint_path}; resume with {self.resume_hint}"
        )

    def _save_best(self, loss: float) -> None:
        if self.run_dir is None or not self.is_main:
            return
        p = self._progress
        save_model_weights(self.model, self.run_dir / "best" / "model.safetensors")
        write_json(self.run_dir / "best" / "meta.json", {"step": p.step, "epoch": p.epoch + 1, "valid_loss": loss})

    # ------------------------------------------------------------------ logging
    @contextlib.contextmanager
    def _not_training(self) -> Iterator[None]:
        """Leave the enclosed time (validation, checkpoints, plots) out of the tokens/s windows."""
        start = time.perf_counter()
        try:
            yield
        finally:
            pause = time.perf_counter() - start
            self._interval_t0 += pause
            self._bar_t0 += pause

    def _elapsed(self) -> float:
        """Seconds of training of the whole run, resumed sessions included."""
        return self._elapsed_base + self._session_elapsed()

    def _session_elapsed(self) -> float:
        """Seconds since this call of :meth:`fit` started (what ``max_time`` limits)."""
        return time.perf_counter() - self._fit_t0

    def _write_row(self, row: dict[str, Any]) -> None:
        self._progress.metrics_rows += 1
        if self._metrics_file is not None:
            self._metrics_file.write(row)
        if self._tensorboard is not None:
            self._tensorboard.log(row)

    def _row(self, split: str, loss: float, **extra: Any) -> dict[str, Any]:
        p = self._progress
        return {
            "step": p.step,
            "epoch": p.epoch + 1,
            "split": split,
            "loss": loss,
            "metric": metric_value(self.config.metric, loss),
            "lr": self.lr,
            "time": self._elapsed(),
            **extra,
        }

    def _open_outputs(self) -> None:
        cfg = self.config
        if self.run_dir is None or not self.is_main:
            return
        if cfg.tensorboard:
            check_tensorboard()  # before anything is written: a missing package is a one-line ImportError
        p = self._progress
        trains = p.epoch < cfg.epochs and (cfg.max_steps is None or p.step < cfg.max_steps)
        if not self._resumed or trains:  # a resume with nothing left to do leaves the run's config as it was
            write_json(self.run_dir / "config.json", {"train": cfg.to_dict(), **self.extra_config})
        keep = self._progress.metrics_rows if self._resumed else None
        self._metrics_file = MetricsFile(self.run_dir / f"metrics.{cfg.metrics_format}", cfg.metrics_format, keep)
        if cfg.tensorboard:
            self._tensorboard = TensorBoardLogger(self.run_dir / "tensorboard", cfg.metric)

    def _close_outputs(self) -> None:
        self._bar.close()
        for output in (self._metrics_file, self._tensorboard):
            if output is not None:
                output.close()
        self._metrics_file = self._tensorboard = None

    def _plot(self) -> None:
        if self.config.plot and self.run_dir is not None and self.is_main:
            p = self._progress
            with self._not_training():
                plot_loss_curves(self.run_dir / "loss.png", p.train_points, p.epoch_points, p.valid_points)

    # ------------------------------------------------------------------ the loop
    def fit(
        self, train_data: Iterable[Any], valid_data: Iterable[Any] | None = None, resume: bool = False
    ) -> TrainResult:
        """Train for ``config.epochs`` epochs (or until another stopping rule fires).

        Args:
            train_data: iterable of batches (see :mod:`unrolled.train.batches` for the optional methods).
            valid_data: iterable of validation batches, or ``None``.
            resume: first load the latest checkpoint of ``run_dir`` (:meth:`resume`) unless already done.

        Returns:
            :class:`TrainResult`.

        Raises:
            TrainingDiverged: the loss or gradient norm became NaN / infinite.
        """
        cfg = self.config
        if valid_data is None and (self.schedule.needs_validation or cfg.early_stopping_patience is not None):
            raise ValueError(f"Trainer.fit: schedule={cfg.schedule!r} / early_stopping_patience need valid_data")
        if resume and not self._resumed:
            self.resume()
        if self.dist is not None:
            train_data = shard_data(train_data, self.dist.rank, self.dist.world_size, "train")
        valid_reduce = self.dist is not None and valid_data is not None and hasattr(valid_data, "shard")
        if valid_reduce:
            valid_data = shard_data(valid_data, self.dist.rank, self.dist.world_size, "valid")
        if not self._resumed and self._progress.step == 0:
            seed_everything(cfg.seed + self.rank)

        p = self._progress
        self._stop_reason = self._pending_stop = None
        self._signal = None
        self._elapsed_base = p.elapsed
        self._fit_t0 = self._interval_t0 = self._bar_t0 = time.perf_counter()
        self._bar_loss_sum, self._bar_count = 0.0, 0
        self._pending = []
        previous_handler = self._install_sigint()
        try:
            self._open_outputs()
            self._emit("on_fit_start")
            try:
                while p.epoch < cfg.epochs and self._stop_reason is None:
                    self._run_epoch(train_data, valid_data, valid_reduce)
            except KeyboardInterrupt:
                if self._step_snapshot is not None:  # interrupted inside a step: torch generators back to its start
                    set_rng_state(self._step_snapshot)
                    self._step_snapshot = None
                self._stop_reason = "interrupted"
                self._signal = self._signal or signal.SIGINT
                if self.dist is not None:  # other ranks may be inside a collective: do not wait for them
                    self.print(f"interrupted at step {p.step}; not saved (distributed run stopped mid-step)")
                    raise
            except TrainingDiverged:
                raise  # its last good checkpoint is left as it was
            except Exception:
                if cfg.checkpoint_on_error:
                    self._save_after_error()
                raise
            self._read_pending()  # the last steps' losses: a NaN among them raises here
            if self._timed_out() and valid_data is not None and p.last_valid_step != p.step:
                with self._not_training():
                    self._validate_once(valid_data, valid_reduce, final=True)
            self._checkpoint()
            self._plot()
            if self._stop_reason == "interrupted":
                saved = (
                    f"checkpoint saved to {self._checkpoint_path}; resume with {self.resume_hint}"
                    if self.run_dir is not None
                    else "nothing saved (no run_dir)"
                )
                how = "terminated (SIGTERM)" if self._signal == signal.SIGTERM else "interrupted"
                self.print(f"{how} at epoch {p.epoch + 1}, batch {p.batch} (step {p.step}); {saved}")
        finally:
            self._restore_sigint(previous_handler)
            self._close_outputs()
        result = TrainResult(
            history=list(p.history),
            best_valid=p.best_valid,
            best_step=p.best_step,
            steps=p.step,
            epochs=p.epoch,
            stopped=self._stop_reason or "completed",
            checkpoint=self._checkpoint_path,
            signal=int(self._signal) if self._stop_reason == "interrupted" and self._signal else None,
        )
        self._emit("on_fit_end", result)
        return result

    def _install_sigint(self) -> tuple[bool, Any]:
        """First Ctrl-C (SIGINT) or SIGTERM (``kill``, ``timeout``, batch schedulers): stop after the current step
        and checkpoint; a second one: raise KeyboardInterrupt now. Returns ``(installed, previous handlers)``."""
        if threading.current_thread() is not threading.main_thread():
            return False, None

        def handler(signum: int, frame: Any) -> None:
            if self._stop_reason == "interrupted" or self._pending_stop == "interrupted":
                raise KeyboardInterrupt
            self._signal = signum
            self.request_stop("interrupted")

        return True, {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_sigint(installed: tuple[bool, Any]) -> None:
        done, previous = installed
        if done:
            for sig, handler in previous.items():
                default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
                signal.signal(sig, default if handler is None else handler)

    def _run_epoch(self, data: Iterable[Any], valid_data: Iterable[Any] | None, valid_reduce: bool) -> None:
        cfg, p = self.config, self._progress
        resume, self._resume_rng = self._resume_rng, None
        if resume is not None and p.batch == 0:
            set_rng_state(resume["now"])
        if hasattr(data, "set_epoch"):
            data.set_epoch(p.epoch)
        if p.batch > 0:  # mid-epoch: rebuild the iterator as it was built at the epoch start, then skip
            now = resume["now"] if resume is not None else get_rng_state()
            if resume is not None:
                self._epoch_rng = resume["epoch_start"]
            set_rng_state(self._epoch_rng)
            iterator = epoch_iterator(data, p.batch)
            set_rng_state(now)
        else:
            self._state = None
            self._epoch_rng = get_rng_state()
            iterator = epoch_iterator(data, 0)

        length = data_length(data)
        total = length
        if length is not None and cfg.max_steps is not None:
            total = min(length, p.batch + cfg.max_steps - p.step)
        self._bar.start_epoch(p.epoch + 1, cfg.epochs, total, initial=p.batch)
        exhausted = False
        while self._stop_reason is None:
            if cfg.max_steps is not None and p.step >= cfg.max_steps:
                self._stop_reason = "max_steps"
                exhausted = length is not None and p.batch >= length
                break
            self._step_snapshot = get_rng_state(torch_only=True)
            try:
                batch = next(iterator)
            except StopIteration:
                exhausted = True
                break
            self._train_step(batch, valid_data, valid_reduce)
        self._step_snapshot = None
        self._bar.close()
        if exhausted and p.batch == 0:
            raise ValueError(
                f"train data yielded no batches in epoch {p.epoch + 1}; expected a re-iterable such as a list or a "
                "DataLoader (a one-shot iterator or generator is used up after one epoch)"
            )
        if exhausted:
            self._end_epoch(valid_data, valid_reduce)

    def _train_step(self, batch: Any, valid_data: Iterable[Any] | None, valid_reduce: bool) -> None:
        cfg, p = self.config, self._progress
        state = self._state if cfg.carry_state and batch_carries_state(batch) else None
        batch = move_to_device(batch, self.device)
        self.train_model.train()
        self.optimizer.zero_grad(set_to_none=True)
        result = self._check_result(self.objective(self.train_model, batch, state), "objective")
        loss, count = self._global_loss(result)
        total = result.loss
        penalty = weight_penalty(self.model, cfg.l1, cfg.l2)
        if penalty is not None:
            total = total + penalty
        total.backward()
        now = time.perf_counter()
        logging = (p.step + 1) % cfg.log_every == 0
        refresh = self._bar.enabled and (logging or now - self._bar_t0 >= _BAR_REFRESH_S)
        grad_norm = self._clip(need_norm=logging or refresh)
        self.optimizer.step()

        # the step is complete: update the position in one block (the loss sums when the loss is read)
        self._state = detach_state(result.state) if cfg.carry_state else None
        entry = _Pending(loss, grad_norm, count, p.step + 1, p.epoch + 1, p.batch + 1)
        self._pending.append(entry)
        p.step += 1
        p.batch += 1
        if isinstance(count, int):  # else added when read
            self._add_count(count)
        self._step_snapshot = None

        if self.dist is None:
            read = refresh or logging or len(self._pending) >= _READ_EVERY
        else:  # the same steps on every rank (no time-based reads), where the ranks also agree on stopping
            read = logging or p.step % _DIST_READ_EVERY == 0
            refresh = refresh and read
            if read:
                self._agree_stop()
        if read:
            self._read_pending()
        postfix = None
        if refresh:
            now = time.perf_counter()  # after the read: the device has finished the window's steps
            bar_loss = self._bar_loss_sum / self._bar_count
            postfix = format_postfix(
                bar_loss,
                cfg.metric,
                metric_value(cfg.metric, bar_loss),
                self._bar_count / max(now - self._bar_t0, 1e-9),
                entry.norm,
                self.lr,
            )
            self._bar_t0, self._bar_loss_sum, self._bar_count = now, 0.0, 0
        self._bar.update(1, postfix)
        if logging:
            self._log_train(entry.norm)
        fixed = {"step": p.step, "epoch": p.epoch + 1, "batch": p.batch, "lr": self.lr}
        if isinstance(count, int):
            fixed["count"] = count
        self._emit("on_step_end", p.step, _StepMetrics(self, entry, fixed, cfg.metric))
        if cfg.eval_every != "epoch" and valid_data is not None and p.step % cfg.eval_every == 0:
            self._validate(valid_data, valid_reduce)
        if cfg.checkpoint_every is not None and p.step % cfg.checkpoint_every == 0:
            self._checkpoint()
        if cfg.max_time is not None and self._stop_reason is None and self._session_elapsed() >= cfg.max_time:
            self.request_stop("max_time")

    def _global_loss(self, result: StepResult) -> tuple[torch.Tensor, torch.Tensor | int]:
        """The step's loss and count over all ranks, kept on the device (read later by :meth:`_read_pending`):
        a single process's own; under distributed training the count-weighted mean over the ranks, from one
        all-reduce of (loss x count, count) that is not read here."""
        if self.dist is None:
            return result.loss.detach(), result.count
        stats = torch.full((2,), float(result.count), dtype=torch.float64, device=self.device)  # (loss x n, n)
        stats[0] = result.loss.detach().double() * result.count
        dist_utils.all_reduce_sum(stats)
        return stats[0] / stats[1], stats[1]

    def _agree_stop(self) -> None:
        """Distributed training, at a read point (the same steps on every rank): stop when some rank asked to
        (``interrupted`` wins over ``requested``), through one all-reduce of the ranks' requests."""
        pending = self._pending_stop
        flags = torch.tensor(
            [float(pending == "interrupted"), float(pending is not None)], dtype=torch.float64, device=self.device
        )
        interrupted, requested = dist_utils.all_reduce_sum(flags).tolist()
        if requested > 0:
            self._stop_reason = "interrupted" if interrupted > 0 else "requested"
            self._pending_stop = None

    def _add_count(self, count: int) -> None:
        p = self._progress
        p.epoch_count += count
        p.interval_count += count
        self._bar_count += count

    def _clip(self, need_norm: bool) -> torch.Tensor | float | None:
        """Clip gradients as configured; returns the global norm (before norm clipping) when computed, as a
        device tensor (not read here: no synchronisation)."""
        cfg = self.config
        if cfg.clip_value is not None:
            nn.utils.clip_grad_value_(self._params, cfg.clip_value)
        if cfg.clip_norm is not None:
            return nn.utils.clip_grad_norm_(self._params, cfg.clip_norm)
        if need_norm:
            grads = [p.grad for p in self._params if p.grad is not None]
            return nn.utils.get_total_norm(grads) if grads else 0.0
        return None

    def _read_pending(self) -> None:
        """Read the losses and gradient norms of the steps not read yet in one device-to-host copy, check them in
        step order (the first NaN / infinite one raises :class:`TrainingDiverged` naming its step) and add the
        weighted losses to the epoch, logging-interval and progress-bar sums, in step order as a loop reading
        every step would."""
        pending = self._pending
        if not pending:
            return
        tensors = [e.loss for e in pending if isinstance(e.loss, torch.Tensor)]
        tensors += [e.norm for e in pending if isinstance(e.norm, torch.Tensor)]
        tensors += [e.count for e in pending if isinstance(e.count, torch.Tensor)]
        values = iter(_read_scalars(tensors))  # the synchronisation (one per device the scalars are on)
        self._pending = []
        for e in pending:
            if isinstance(e.loss, torch.Tensor):
                e.loss = next(values)
        for e in pending:
            if isinstance(e.norm, torch.Tensor):
                e.norm = next(values)
        for e in pending:
            if isinstance(e.count, torch.Tensor):
                e.count = int(next(values))
                self._add_count(e.count)
            e.read = True
        p = self._progress
        for e in pending:
            if not math.isfinite(e.loss):
                self._diverged("loss", e)
            if e.norm is not None and not math.isfinite(e.norm):
                self._diverged("gradient norm", e)
            weighted = e.loss * e.count
            p.epoch_loss_sum += weighted
            p.interval_loss_sum += weighted
            self._bar_loss_sum += weighted

    def _diverged(self, what: str, entry: _Pending) -> None:
        value = entry.norm if what == "gradient norm" else entry.loss
        kept = f"last good checkpoint kept at {self._checkpoint_path}" if self._checkpoint_path else "no checkpoint"
        raise TrainingDiverged(
            f"training diverged: {what} is {value} at step {entry.step} (epoch {entry.epoch}, batch {entry.batch}); "
            f"{kept}; try a lower lr or clip_norm"
        )

    def _log_train(self, grad_norm: float | None) -> None:
        p = self._progress
        now = time.perf_counter()
        loss = p.interval_loss_sum / p.interval_count
        self._write_row(
            self._row(
                "train", loss, grad_norm=grad_norm, tokens_per_s=p.interval_count / max(now - self._interval_t0, 1e-9)
            )
        )
        p.train_points.append([p.step, loss])
        p.interval_loss_sum, p.interval_count = 0.0, 0
        self._interval_t0 = now

    def _validate(self, valid_data: Iterable[Any], reduce: bool) -> None:
        with self._not_training():
            self._validate_once(valid_data, reduce)

    def _timed_out(self) -> bool:
        cfg = self.config
        return (
            cfg.max_time is not None
            and self._stop_reason in ("max_time", "requested")
            and (self._session_elapsed() >= cfg.max_time)
        )

    def _validate_once(self, valid_data: Iterable[Any], reduce: bool, final: bool = False) -> None:
        """One validation pass. ``final`` (the extra pass of a run stopped by ``max_time``) updates the best
        weights but not the schedule or the early-stopping counter, so a resumed run stays exact."""
        cfg, p = self.config, self._progress
        self._read_pending()  # a diverged step raises before any best weights are written
        loss = self._evaluate(valid_data, reduce)
        row = self._row("valid", loss)  # before the schedule reacts: lr is the rate the model was trained with
        improved = p.best_valid is None or loss < p.best_valid - cfg.min_delta
        if improved:
            p.best_valid, p.best_step = loss, p.step
            if not final:
                p.bad_evals = 0
            self._save_best(loss)
        elif not final:
            p.bad_evals += 1
        if not final:
            self.schedule.on_eval(loss)
        p.last_valid, p.last_valid_step = loss, p.step
        p.valid_points.append([p.step, loss])
        self._write_row(row)
        self._emit(
            "on_eval",
            p.step,
            {
                "step": p.step,
                "epoch": p.epoch + 1,
                "loss": loss,
                cfg.metric: metric_value(cfg.metric, loss),
                "improved": improved,
            },
        )
        if cfg.early_stopping_patience is not None and p.bad_evals >= cfg.early_stopping_patience:
            self._stop_reason = "early_stopping"

    def _end_epoch(self, valid_data: Iterable[Any] | None, valid_reduce: bool) -> None:
        cfg, p = self.config, self._progress
        self._read_pending()
        train_loss = p.epoch_loss_sum / p.epoch_count if p.epoch_count else math.nan
        lr = self.lr  # the rate this epoch trained with, before validation or the schedule change it
        if cfg.eval_every == "epoch" and valid_data is not None:
            self._validate(valid_data, valid_reduce)
        self.schedule.on_epoch_end()
        entry = {"epoch": p.epoch + 1, "step": p.step, "train_loss": train_loss, "valid_loss": p.last_valid, "lr": lr}
        p.history.append(entry)
        p.epoch_points.append([p.step, train_loss])
        self._write_row(self._row("train_epoch", train_loss) | {"lr": lr})
        self._emit("on_epoch_end", p.epoch + 1, dict(entry))
        p.epoch += 1
        p.batch = 0
        p.epoch_loss_sum, p.epoch_count, p.last_valid = 0.0, 0, None
        self._state = None
        self._checkpoint()
        self._plot()
