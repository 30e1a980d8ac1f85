"""One lab run: train a cell on a synthetic task, then write the report folder.

The report folder holds ``report.txt`` (the one-line verdict first, then the figures), ``metrics.json``, the
trainer's ``metrics.csv`` and loss curve ``loss.png``, ``gradient_norms.png`` (||dL/dh_t|| against t at a few
training steps, recorded with :class:`~unrolled.analysis.GradientNormRecorder`) and ``gradient_norms.json``.

The model is a chain of cells (``model="chain"``, the default) or a neural Turing machine (``model="ntm"``),
resolved once through :data:`LAB_MODELS`. For the NTM the gradient norms are those of its state's ``h``-like part
(``[h_t; r_t]``, controller output and read vector), which the report says; ``cell``, ``init`` and ``regularize``
are chain options and are refused with it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unrolled.analysis import GradientNormCallback, GradientNormRecorder, PascanuObjective
from unrolled.cells import CELLS
from unrolled.data.synthetic import SYNTHETIC_TASKS, get_task
from unrolled.layers.init import INITIALIZERS, initialize, parse_init_name
from unrolled.tasks.lab.model import LabModel, LabNTM
from unrolled.tasks.lab.objective import LabObjective, SyntheticBatches, accuracy
from unrolled.train import TrainConfig, Trainer
from unrolled.viz.gradients import plot_gradient_norms

REGULARIZERS = ("none", "pascanu")
#: a run beats chance "by 10x" when its validation loss is below this fraction of the baseline
TEN_X = 0.1


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"LabConfig.{name}: expected an integer >= 1, got {value!r}")


@dataclass
class LabConfig:
    """One lab run, checked when built.

    Args:
        task: a synthetic task name (:data:`~unrolled.data.synthetic.SYNTHETIC_TASKS`).
        model: ``chain`` (a :class:`~unrolled.layers.Recurrent` of ``cell``) or ``ntm`` (:data:`LAB_MODELS`).
        cell: a cell registry name. length: T. steps: optimizer steps. batch_size: B. hidden: H.
        lr: Adam's learning rate. clip_norm: gradient-norm clipping (Pascanu et al. 2013).
        init: ``default``, ``identity``, ``orthogonal``, ``chrono``, ``uniform:a`` (chrono's T_max = the
            sequence length; ``elman`` with ``identity`` becomes the IRNN, ReLU units, Le et al. 2015).
        regularize: ``none`` or ``pascanu``; reg_weight: its coefficient.
        seed: the seed of the weights and the data. valid_batches: batches of the fixed validation set.
        record_every: record the gradient norms every this many steps (0: five times per run).
        target_loss: also report the first validation step (and second) below this loss.
        max_time: stop training after this many seconds (None: no limit).
        stop_at_10x: stop at the first validation below baseline / 10 (when only the steps to 10x matter;
            ``metrics["stopped"]`` is then ``reached_10x``).
        out: the report folder.
    """

    task: str = "adding"
    model: str = "chain"
    cell: str = "lstm"
    length: int = 50
    steps: int = 500
    batch_size: int = 64
    hidden: int = 64
    lr: float = 1e-3
    clip_norm: float = 1.0
    init: str = "default"
    regularize: str = "none"
    reg_weight: float = 1.0
    seed: int = 0
    valid_batches: int = 4
    record_every: int = 0
    target_loss: float | None = None
    max_time: float | None = None
    stop_at_10x: bool = False
    out: str = "lab"

    def __post_init__(self) -> None:
        get_task(self.task)
        self.length = get_task(self.task).check_length(self.length)
        if self.model not in LAB_MODELS:
            raise ValueError(f"LabConfig.model: expected one of {', '.join(LAB_MODELS)}, got {self.model!r}")
        if self.model != "chain" and (self.init != "default" or self.regularize != "none"):
            raise ValueError(f"LabConfig: init and regularize are chain options, not for model {self.model!r}")
        if self.cell not in CELLS:
            raise ValueError(f"LabConfig.cell: expected one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("steps", "batch_size", "hidden", "valid_batches"):
            _positive_int(name, getattr(self, name))
        if self.batch_size < 2:
            raise ValueError(f"LabConfig.batch_size: expected an integer >= 2, got {self.batch_size!r}")
        for name in ("lr", "clip_norm", "reg_weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"LabConfig.{name}: expected a finite number >= 0, got {v!r}")
        parse_init_name(self.init)
        if self.regularize not in REGULARIZERS:
            raise ValueError(f"LabConfig.regularize: expected one of {REGULARIZERS}, got {self.regularize!r}")
        for name in ("target_loss", "max_time"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
                raise ValueError(f"LabConfig.{name}: expected a number > 0 or None, got {v!r}")
        if isinstance(self.record_every, bool) or not isinstance(self.record_every, int) or self.record_every < 0:
            raise ValueError(f"LabConfig.record_every: expected an integer >= 0, got {self.record_every!r}")
        if not isinstance(self.stop_at_10x, bool):
            raise ValueError(f"LabConfig.stop_at_10x: expected True or False, got {self.stop_at_10x!r}")


def _chain_model(cfg: LabConfig) -> tuple[nn.Module, str]:
    task = get_task(cfg.task)
    base, _ = parse_init_name(cfg.init)
    kwargs: dict[str, Any] = {}
    desc = cfg.cell
    if base == "identity" and CELLS[cfg.cell][0] is CELLS["elman"][0]:
        kwargs["nonlinearity"] = "relu"  # IRNN: identity recurrence with ReLU units (Le et al. 2015)
        desc = "elman (relu, IRNN)"
    if cfg.cell == "bn_lstm":
        kwargs["max_length"] = task.sequence_length(cfg.length)
    torch.manual_seed(cfg.seed)
    model = LabModel(cfg.cell, task.input_features(cfg.length), cfg.hidden, task.output_size, task.loss, **kwargs)
    if base == "chrono" and ":" not in cfg.init:
        initialize(model.rnn, "chrono", t_max=max(3, task.sequence_length(cfg.length)))
    elif base == "uniform":
        initialize(model, cfg.init)
    elif base != "default":
        initialize(model.rnn, cfg.init)
    if base != "default":
        desc += f", init {cfg.init}"
    return model, desc


def _ntm_model(cfg: LabConfig) -> tuple[nn.Module, str]:
    task = get_task(cfg.task)
    slots = max(2, task.sequence_length(cfg.length))  # a row per step at least; shifts -1..1 need N >= 2
    torch.manual_seed(cfg.seed)
    model = LabNTM(task.input_features(cfg.length), cfg.hidden, task.output_size, task.loss, memory_slots=slots)
    return model, f"ntm (lstm controller, memory {slots}x20, 1 read and 1 write head)"


#: the lab's model kinds, resolved once: name -> builder of (model, one-line description)
LAB_MODELS: dict[str, Callable[[LabConfig], tuple[nn.Module, str]]] = {"chain": _chain_model, "ntm": _ntm_model}

#: a note in the report on what the gradient norms are, per model kind
NORMS_NOTE = {
    "chain": "",
    "ntm": "gradient norms: ||dL/dy_t|| of the NTM's step output y_t = [h_t; r_t] (controller and read vector)",
}


def build_model(cfg: LabConfig) -> tuple[nn.Module, str]:
    """The model of a run and a one-line description of it."""
    return LAB_MODELS[cfg.model](cfg)


def verdict(loss: float, baseline: float) -> str:
    """One line: how the loss compares with the chance baseline."""
    ratio = baseline / loss if loss > 0 else math.inf
    if loss < TEN_X * baseline:
        return f"beats chance by 10x: loss {loss:.4g} vs baseline {baseline:.4g} ({ratio:.1f}x lower)"
    if loss < 0.9 * baseline:
        return f"beats chance, not by 10x: loss {loss:.4g} vs baseline {baseline:.4g} ({ratio:.2f}x lower)"
    return f"at chance: loss {loss:.4g} vs baseline {baseline:.4g}"


class _FirstBelow:
    """Callback: the first validation step (and seconds since the start) whose loss is below ``threshold``;
    with ``stop`` set it then asks the trainer to stop (reason ``reached_10x``)."""

    def __init__(self, threshold: float, stop: bool = False):
        self.threshold, self.step, self.seconds, self.stop = threshold, None, None, stop
        self.t0 = time.perf_counter()

    def on_eval(self, trainer: Any, step: int, metrics: dict[str, Any]) -> None:
        if self.step is None and metrics["loss"] < self.threshold:
            self.step, self.seconds = step, round(time.perf_counter() - self.t0, 2)
            if self.stop:
                trainer.request_stop("reached_10x")


def run_lab(cfg: LabConfig, progress: bool = False) -> dict[str, Any]:
    """Train as ``cfg`` says, write the report folder ``cfg.out``, return the metrics (also in metrics.json)."""
    task = get_task(cfg.task)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model, desc = build_model(cfg)
    objective: Any = LabObjective(task.loss)
    if cfg.regularize == "pascanu":
        objective = PascanuObjective(objective, weight=cfg.reg_weight)
    train = SyntheticBatches(task, cfg.length, cfg.batch_size, cfg.steps, cfg.seed)
    valid = list(SyntheticBatches(task, cfg.length, 256, cfg.valid_batches, cfg.seed + 7919, split="test"))
    baseline = task.baseline(cfg.length)
    every = cfg.record_every or max(1, cfg.steps // 5)
    recorder = GradientNormRecorder(model)
    norms_cb = GradientNormCallback(recorder, every=every)
    first = _FirstBelow(TEN_X * baseline, stop=cfg.stop_at_10x)
    target = _FirstBelow(cfg.target_loss if cfg.target_loss is not None else -math.inf)
    tc = TrainConfig(
        epochs=1,
        max_steps=cfg.steps,
        lr=cfg.lr,
        optimizer="adam",
        clip_norm=cfg.clip_norm or None,
        max_time=cfg.max_time,
        seed=cfg.seed,
        eval_every=max(1, min(cfg.steps, 50, cfg.steps // 4 or 1)),
        log_every=max(1, min(50, cfg.steps // 10 or 1)),
        plot=True,
        progress=progress,
        device="cpu",
    )
    t0 = time.perf_counter()
    trainer = Trainer(
        model, objective, tc, run_dir=out, callbacks=[norms_cb, first, target], eval_objective=LabObjective(task.loss)
    )
    with trainer:
        result = trainer.fit(train, valid)
    seconds = time.perf_counter() - t0
    final = trainer.evaluate(valid)
    acc = accuracy(model, valid, task.loss)
    metrics = {
        "task": cfg.task,
        "cell": cfg.cell if cfg.model == "chain" else cfg.model,
        "model": desc,
        "length": cfg.length,
        "loss_kind": task.loss,
        "baseline": baseline,
        "valid_loss": final,
        "best_valid": result.best_valid,
        "ratio_to_baseline": final / baseline,
        "beats_chance_10x": final < TEN_X * baseline,
        "steps_to_10x": first.step,
        "seconds_to_10x": first.seconds,
        "stopped": result.stopped,
        "target_loss": cfg.target_loss,
        "steps_to_target": target.step,
        "seconds_to_target": target.seconds,
        "accuracy": acc,
        "steps": result.steps,
        "seconds": round(seconds, 2),
        "verdict": verdict(final, baseline),
        "config": asdict(cfg),
    }
    curves = {f"step {s} ({label})": n.tolist() for s, norms in norms_cb.history for label, n in norms.items()}
    (out / "gradient_norms.json").write_text(json.dumps(curves) + "\n")
    plot_gradient_norms(curves, out / "gradient_norms.png", title=f"{cfg.task} T={cfg.length}, {desc}")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    lines = [
        f"{cfg.task} T={cfg.length}, {desc}: {metrics['verdict']}",
        f"validation loss {final:.5g} ({task.loss}); chance baseline {baseline:.5g} = {task.baseline_text()}",
        f"accuracy {acc:.4f}" if acc is not None else "",
        f"steps {result.steps}, first below baseline/10 at step {first.step}, {seconds:.1f} s",
        NORMS_NOTE[cfg.model],
    ]
    (out / "report.txt").write_text("\n".join(line for line in lines if line) + "\n")
    return metrics


def list_tasks() -> list[str]:
    """One line per task: its name, loss kind, chance baseline and description."""
    return [
        f"{name:16s} {t.loss:9s} chance: {t.baseline_text():50s} {t.description}" for name, t in SYNTHETIC_TASKS.items()
    ]


INIT_NAMES = tuple(INITIALIZERS)
