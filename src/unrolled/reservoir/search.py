"""Hyperparameter search for echo state networks: random or grid, over spectral radius, leak rate, input scaling
and ridge, evaluated on a validation part, trials spread over a process pool."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from unrolled.reservoir.esn import ESN
from unrolled.reservoir.reservoir import ReservoirConfig

__all__ = ["SearchSpace", "Trial", "evaluate_trial", "search"]


@dataclass
class SearchSpace:
    """The values tried for each hyperparameter (grid: every combination; random: independent draws)."""

    spectral_radius: Sequence[float] = (0.5, 0.9, 1.1, 1.3)
    leak_rate: Sequence[float] = (0.1, 0.3, 0.6, 1.0)
    input_scaling: Sequence[float] = (0.1, 0.5, 1.0)
    ridge: Sequence[float] = (1e-8, 1e-6, 1e-4, 1e-2)

    def __post_init__(self) -> None:
        for name in ("spectral_radius", "leak_rate", "input_scaling", "ridge"):
            values = getattr(self, name)
            if len(values) == 0:
                raise ValueError(f"search: expected at least one value for {name}, got none")

    def grid(self) -> list[dict[str, float]]:
        keys = ("spectral_radius", "leak_rate", "input_scaling", "ridge")
        return [dict(zip(keys, v, strict=True)) for v in itertools.product(*(getattr(self, k) for k in keys))]

    def sample(self, n: int, seed: int) -> list[dict[str, float]]:
        rng = random.Random(seed)
        keys = ("spectral_radius", "leak_rate", "input_scaling", "ridge")
        return [{k: rng.choice(list(getattr(self, k))) for k in keys} for _ in range(n)]


@dataclass
class Trial:
    """One evaluated configuration and its validation NRMSE (RMSE / std of the validation targets)."""

    params: dict[str, float]
    nrmse: float
    extra: dict = field(default_factory=dict)


def evaluate_trial(
    base: ReservoirConfig,
    params: dict[str, float],
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    washout: int,
) -> Trial:
    """Fit an ESN with ``params`` on (train input, train targets), score NRMSE on (valid input, valid targets).

    The validation input continues the training input in time: the reservoir runs over both in one pass so its
    state at the start of validation is the true one."""
    u_tr, y_tr, u_va, y_va = data
    cfg = replace(base, spectral_radius=params["spectral_radius"], leak_rate=params["leak_rate"])
    cfg = replace(cfg, input_scaling=params["input_scaling"])
    esn = ESN(cfg, output_size=y_tr.shape[-1], ridge=params["ridge"], washout=washout)
    esn.fit(u_tr, y_tr)
    pred, _ = esn(torch.cat([u_tr, u_va], dim=1))  # (B, T_tr + T_va, O)
    pred = pred[:, u_tr.shape[1] :]
    rmse = float((pred - y_va).pow(2).mean().sqrt())
    std = float(y_va.std())
    nrmse = rmse / std if std > 0 else math.inf
    return Trial(params, nrmse if math.isfinite(nrmse) else math.inf)


def _run(args: tuple) -> Trial:
    torch.set_num_threads(1)
    return evaluate_trial(*args)


def search(
    base: ReservoirConfig,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    space: SearchSpace | None = None,
    method: str = "random",
    n_trials: int = 20,
    washout: int = 100,
    workers: int = 2,
    seed: int = 0,
) -> list[Trial]:
    """Evaluate configurations (``method`` "grid" or "random" with ``n_trials``) and return them best first.

    ``data`` is (train input (B, T, I), train targets (B, T, O), valid input (B, T', I), valid targets (B, T', O)).
    ``workers`` > 1 spreads trials over a process pool (one torch thread each), else runs them here."""
    space = space or SearchSpace()
    methods = {"grid": lambda: space.grid(), "random": lambda: space.sample(n_trials, seed)}
    if method not in methods:
        raise ValueError(f"search: expected method to be one of {sorted(methods)}, got {method!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"search: expected workers to be an int >= 1, got {workers!r}")
    configs = methods[method]()
    jobs = [(base, p, data, washout) for p in configs]
    if workers == 1:
        trials = [evaluate_trial(*j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            trials = list(pool.map(_run, jobs))
    return sorted(trials, key=lambda t: t.nrmse)
