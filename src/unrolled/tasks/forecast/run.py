"""Train, load and use forecasting runs.

A run folder holds ``config.json`` (the sections, the series' columns, split and the scaler fitted on the training
part), and the model: recurrent networks through the Trainer (``best/model.safetensors``, ``checkpoint/``,
``metrics.csv``), closed-form / EM models (``esn``, ``ar``, ``lds``) as ``model.safetensors``; with
``model.imputer`` also ``imputer.safetensors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from unrolled.config_io import to_dict
from unrolled.data.gaps import linear_interpolate
from unrolled.data.windows import SCALERS, Scaler, make_windows
from unrolled.metrics.forecast import mae, mase, mse, nrmse, rmse
from unrolled.models.ar import ARModel, select_order
from unrolled.models.forecaster import Forecaster, ForecasterConfig
from unrolled.models.imputer import ImputerConfig, RNNImputer
from unrolled.models.lds import LinearDynamicalSystem
from unrolled.reservoir.esn import ESN
from unrolled.reservoir.reservoir import ReservoirConfig
from unrolled.tasks.forecast.config import FITTED, ForecastRunConfig
from unrolled.tasks.forecast.data import SeriesData, handle_gaps, load_series, read_columns
from unrolled.tasks.resolve import load_run_config
from unrolled.tasks.runs import RunError, choose_weights
from unrolled.tasks.session import RunSession
from unrolled.tasks.spec import TrainOutcome
from unrolled.train.checkpoint import load_model_weights
from unrolled.train.objective import StepResult

MODEL_FILE = "model.safetensors"
IMPUTER_FILE = "imputer.safetensors"
IMPUTER_CELL = "elman"  # the run's imputer: a bidirectional Elman network (the scan path trains it fast on CPU)


# --- training ------------------------------------------------------------------------------------------------
class WindowBatches:
    """Mini-batches of (input window, target horizon[, future]) tensors, reshuffled every pass when ``shuffle``."""

    def __init__(self, inputs: Tensor, targets: Tensor, batch_size: int, shuffle: bool, seed: int = 0):
        self.inputs, self.targets, self.batch_size, self.shuffle, self.seed = inputs, targets, batch_size, shuffle, seed
        self.epoch = 0

    def __len__(self) -> int:
        return (len(self.inputs) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.inputs)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
            self.epoch += 1
        else:
            order = torch.arange(n)
        for i in range(0, n, self.batch_size):
            idx = order[i : i + self.batch_size]
            yield self.inputs[idx], self.targets[idx]


def forecast_objective(model: Forecaster, batch: tuple[Tensor, Tensor], state: Any) -> StepResult:
    x, y = batch
    return StepResult(loss=model.loss(x, y), count=int(x.shape[0]), state=None)


def _network_config(cfg: ForecastRunConfig, n_inputs: int) -> ForecasterConfig:
    m = cfg.model
    direct = m.strategy == "direct"
    return ForecasterConfig(
        input_size=n_inputs if direct else 1,
        output_size=1,
        hidden_size=m.hidden,
        cell=m.model,
        num_layers=m.layers,
        dropout=m.dropout,
        horizon=cfg.data.horizon,
        strategy=m.strategy,
        gaussian=m.gaussian,
    )


def _esn(cfg: ForecastRunConfig) -> ESN:
    m = cfg.model
    res = ReservoirConfig(
        units=m.units,
        input_size=1,
        spectral_radius=m.spectral_radius,
        leak_rate=m.leak_rate,
        input_scaling=m.input_scaling,
        seed=cfg.train.seed,
    )
    return ESN(res, 1, ridge=m.ridge, washout=m.washout).double()


def _windows(scaled: np.ndarray, cfg: ForecastRunConfig, lo: int | None, hi: int | None, direct: bool):
    cols = list(range(scaled.shape[1])) if direct else [0]
    w = make_windows(scaled[:, cols], cfg.data.window, cfg.data.horizon, (0,), first_target=lo, last_target=hi)
    return torch.tensor(w.inputs, dtype=torch.float32), torch.tensor(w.targets, dtype=torch.float32)


def _train_imputer(scaled: np.ndarray, train_end: int, seed: int) -> RNNImputer:
    torch.manual_seed(seed)
    imp = RNNImputer(ImputerConfig(input_size=scaled.shape[1], hidden_size=16, cell=IMPUTER_CELL, max_gap=8))
    x = torch.tensor(scaled[:train_end], dtype=torch.float32)
    L = min(64, len(x))
    chunks = x[: len(x) // L * L].reshape(-1, L, x.shape[1])  # (B, L, F)
    opt = torch.optim.Adam(imp.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(seed)
    for _ in range(100):
        opt.zero_grad()
        imp.loss(chunks, generator=g).backward()
        opt.step()
    return imp.eval()


def train_in_session(cfg: ForecastRunConfig, session: RunSession) -> TrainOutcome:
    """The forecasting part of a training session (the task's ``train``)."""
    data, parts, scaler = load_series(cfg.data)
    scaled = scaler.transform(data.values)  # (T, F)
    m = cfg.model
    printer = session.print
    printer(
        f"data: {data.source}, {len(scaled):,} steps split {parts.train_end}/{parts.valid_end - parts.train_end}/"
        f"{len(scaled) - parts.valid_end} (train/valid/test), target {data.columns[0]!r}"
        + (f", {data.filled} gaps filled linearly" if data.filled else "")
        + f"; run folder {session.run_dir}"
    )
    extra = {
        "series": {
            "columns": data.columns,
            "length": len(scaled),
            "train_end": parts.train_end,
            "valid_end": parts.valid_end,
            "scaler": scaler.state(),
            "source": data.source,
        }
    }
    if m.imputer and session.main:
        imp = _train_imputer(scaled, parts.train_end, cfg.train.seed)
        save_file(dict(imp.state_dict()), str(session.path(IMPUTER_FILE)))
    hint = f"evaluate it with: unrolled evaluate {session.run_dir}"
    if m.model in FITTED:
        y = scaled[: parts.train_end, 0]  # (T_train,)
        if m.model == "esn":
            model = _esn(cfg)
            u = torch.tensor(y, dtype=torch.float64).reshape(1, -1, 1)
            model.fit(u[:, :-1], u[:, 1:])
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            desc = f"ESN with {m.units} units"
        elif m.model == "ar":
            order = m.ar_order or select_order(y, m.max_order, "bic").order
            model = ARModel.fit(y, max(order, 1))
            state = model.state_dict()
            desc = f"AR({model.order})"
        else:
            model = LinearDynamicalSystem.fit(y, state_dim=m.lds_state_dim, n_iter=m.em_iters, seed=cfg.train.seed)
            state = model.state_dict()
            desc = f"LDS with {m.lds_state_dim} state dimension(s), {m.em_iters} EM iterations"
        if session.main:
            session.write_config(cfg, **extra)
            save_file({k: v.contiguous() for k, v in state.items()}, str(session.path(MODEL_FILE)))
        printer(f"model: {desc}, fitted on the training part; saved in {session.run_dir / MODEL_FILE}")
        if session.main:
            report = evaluate_part(load_run(session.run_dir), "valid")
            printer(f"validation: {format_metrics(report)}")
        return TrainOutcome(session.run_dir, None, None, main=session.main, next_step=hint)
    direct = m.strategy == "direct"
    torch.manual_seed(cfg.train.seed)
    model = Forecaster(_network_config(cfg, scaled.shape[1]))
    n_params = sum(p.numel() for p in model.parameters())
    printer(f"model: {m.model} forecaster ({m.strategy}), {n_params:,} parameters")
    xt, yt = _windows(scaled, cfg, None, parts.train_end, direct)
    xv, yv = _windows(scaled, cfg, parts.train_end, parts.valid_end, direct)
    train = WindowBatches(xt, yt, cfg.data.batch_size, shuffle=True, seed=cfg.train.seed)
    valid = WindowBatches(xv, yv, 512, shuffle=False)
    record = session.record(cfg, **extra)
    result = session.fit(model, forecast_objective, train, valid, cfg.train, extra_config=record)
    if session.main and (session.run_dir / "best").exists():
        printer(f"validation (best weights): {format_metrics(evaluate_part(load_run(session.run_dir), 'valid'))}")
    return session.outcome(result, hint)


# --- loading ----------------------------------------------------------------------------------------------
@dataclass
class LoadedForecast:
    run_dir: Path
    config: ForecastRunConfig
    raw: dict[str, Any]
    scaler: Scaler
    columns: list[str]
    model: Any
    note: str | None = None

    @property
    def family(self) -> str:
        return self.config.model.model

    @property
    def series(self) -> dict[str, Any]:
        return self.raw["series"]

    def imputer(self) -> RNNImputer | None:
        path = self.run_dir / IMPUTER_FILE
        if not path.is_file():
            return None
        imp = RNNImputer(ImputerConfig(input_size=len(self.columns), hidden_size=16, cell=IMPUTER_CELL, max_gap=8))
        imp.load_state_dict(load_file(str(path)))
        return imp.eval()


def load_run(run_dir: str | Path, which: str = "best") -> LoadedForecast:
    """A forecasting run with its model ready to forecast."""
    from unrolled.tasks.forecast.task import TASK

    run_dir = Path(run_dir)
    cfg, raw = load_run_config(TASK, run_dir)
    series = raw.get("series")
    if not isinstance(series, dict) or "scaler" not in series:
        raise RunError(f"{run_dir / 'config.json'} has no series section; the run is incomplete")
    scaler = SCALERS[cfg.data.scaler]().load(series["scaler"])
    family, note = cfg.model.model, None
    if family in FITTED:
        path = run_dir / MODEL_FILE
        if not path.is_file():
            raise RunError(f"{run_dir} has no {MODEL_FILE}; the run is incomplete")
        state = load_file(str(path))
        if family == "esn":
            model = _esn(cfg)
            model.load_state_dict(state)
        elif family == "ar":
            model = ARModel.from_state_dict(state)
        else:
            model = LinearDynamicalSystem.from_state_dict(state)
    else:
        model = Forecaster(_network_config(cfg, len(series["columns"])))
        choice = choose_weights(run_dir, which)
        load_model_weights(model, choice.path)
        model.eval()
        note = choice.note
    return LoadedForecast(run_dir, cfg, raw, scaler, list(series["columns"]), model, note)


# --- forecasting ----------------------------------------------------------------------------------------------
def forecast_at(run: LoadedForecast, scaled: np.ndarray, origins: list[int], horizon: int) -> tuple[np.ndarray, ...]:
    """Forecasts of the (scaled) target for ``horizon`` steps from each origin t (the first forecast step): means
    and standard deviations (NaN where the model gives none), both (N, horizon), in scaled units."""
    cfg = run.config
    W = cfg.data.window
    N = len(origins)
    std = np.full((N, horizon), np.nan)
    if run.family == "ar":
        mean = np.empty((N, horizon))
        for i, t in enumerate(origins):
            f = run.model.forecast(horizon, history=scaled[:t, 0])
            mean[i], std[i] = f.mean, f.std
        return mean, std
    if run.family == "lds":
        mean = np.empty((N, horizon))
        for i, t in enumerate(origins):
            f = run.model.forecast(scaled[max(0, t - W) : t, 0], horizon)
            mean[i], std[i] = np.asarray(f.mean).reshape(-1), np.asarray(f.std).reshape(-1)
        return mean, std
    if run.family == "esn":
        u = torch.tensor(scaled[:, 0], dtype=torch.float64).reshape(1, -1, 1)
        states, _ = run.model.reservoir(u)  # (1, T, N): the teacher-forced states over the whole series
        k = min(W, min(origins))  # warm-up steps before each origin, from the state before them
        starts = [t - k for t in origins]
        init = torch.stack([states[0, s - 1] if s > 0 else torch.zeros_like(states[0, 0]) for s in starts])  # (N, U)
        warm = torch.stack([u[0, s : s + k] for s in starts])  # (N, k, 1)
        mean = run.model.generate(warm, horizon, state=init)[..., 0].numpy()  # (N, H)
        return mean, std
    direct = cfg.model.strategy == "direct"
    cols = list(range(scaled.shape[1])) if direct else [0]
    x = torch.tensor(np.stack([scaled[t - W : t, cols] for t in origins]), dtype=torch.float32)  # (N, W, F)
    if direct and horizon != cfg.data.horizon:
        raise RunError(f"a direct model forecasts exactly {cfg.data.horizon} steps (its --horizon); got {horizon}")
    out = run.model.forecast(x, horizon=horizon)
    mean = out.mean[..., 0].double().numpy()
    if out.log_var is not None:
        std = out.std()[..., 0].double().numpy()
    return mean, std


def _unscale(run: LoadedForecast, z: np.ndarray, is_std: bool = False) -> np.ndarray:
    shift, scale = run.scaler.shift[0], run.scaler.scale[0]
    return z * scale if is_std else z * scale + shift


def scaled_values(run: LoadedForecast, data: SeriesData) -> np.ndarray:
    if data.values.shape[1] != len(run.columns):
        raise RunError(f"expected the columns {run.columns}, got {data.columns}")
    return run.scaler.transform(data.values)


def evaluate_part(run: LoadedForecast, part: str, data: SeriesData | None = None) -> dict[str, Any]:
    """MSE, RMSE, NRMSE (RMSE / std of the actual values scored), MAE, MASE (against the one-step naive forecast
    on the training part) of ``horizon``-step forecasts from every origin of the part, on the original scale, and
    the RMSE at each horizon step (the drift)."""
    cfg = run.config
    H, W = cfg.data.horizon, cfg.data.window
    s = run.series
    if data is None:
        data = handle_gaps(read_columns(cfg.data), cfg.data.fill)
        lo, hi = (s["train_end"], s["valid_end"]) if part == "valid" else (s["valid_end"], s["length"])
    else:
        lo, hi = W, len(data.values)
    scaled = scaled_values(run, data)
    lo = max(lo, W)
    origins = list(range(lo, hi - H + 1))
    if not origins:
        raise RunError(f"the {part} part ({hi - lo} steps) is shorter than the horizon {H}")
    mean, _ = forecast_at(run, scaled, origins, H)
    pred = _unscale(run, mean)  # (N, H)
    actual = np.stack([data.values[t : t + H, 0] for t in origins])  # (N, H)
    train = data.values[: s["train_end"], 0] if part != "file" else data.values[:lo, 0]
    per_step = np.sqrt(((pred - actual) ** 2).mean(axis=0))
    return {
        "part": part,
        "windows": len(origins),
        "horizon": H,
        "mse": mse(pred, actual),
        "rmse": rmse(pred, actual),
        "nrmse": nrmse(pred, actual),
        "mae": mae(pred, actual),
        "mase": mase(pred, actual, train),
        "rmse_by_step": per_step.tolist(),
    }


def format_metrics(m: dict[str, Any]) -> str:
    return (
        f"{m['windows']} windows x {m['horizon']} steps: MSE {m['mse']:.4g}, RMSE {m['rmse']:.4g}, NRMSE "
        f"{m['nrmse']:.4g} (RMSE / std of the actual values), MAE {m['mae']:.4g}, MASE {m['mase']:.4g}"
    )


def forecast_future(run: LoadedForecast, horizon: int, path: str | None = None, level: float = 0.95):
    """Forecast ``horizon`` steps after the end of the run's series (or of the CSV at ``path``): (history, mean,
    lower, upper) on the original scale (lower/upper None without intervals)."""
    cfg = run.config
    data = handle_gaps(read_columns(cfg.data, path), cfg.data.fill)
    scaled = scaled_values(run, data)
    T = len(scaled)
    if T < cfg.data.window:
        raise RunError(f"the series has {T} steps; the model needs a window of {cfg.data.window}")
    mean, std = forecast_at(run, scaled, [T], horizon)
    m = _unscale(run, mean[0])
    if np.isnan(std).all():
        return data.values[:, 0], m, None, None
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    sd = _unscale(run, std[0], is_std=True)
    return data.values[:, 0], m, m - z * sd, m + z * sd


def impute_file(run: LoadedForecast, path: str, method: str) -> tuple[np.ndarray, list[str], str]:
    """The run's columns read from ``path`` with gaps filled by ``method`` (rnn, kalman, linear, or auto: the
    run's imputer if it has one, else the Kalman smoother of an LDS run, else linear interpolation)."""
    data = read_columns(run.config.data, path)
    imp = run.imputer()
    if method == "auto":
        method = "rnn" if imp is not None else "kalman" if run.family == "lds" else "linear"
    if method == "rnn":
        if imp is None:
            raise RunError(f"{run.run_dir} has no imputer; train with --imputer, or use --method linear")
        x = torch.tensor(run.scaler.transform(data.values), dtype=torch.float32).unsqueeze(0)  # (1, T, F)
        filled = run.scaler.inverse_transform(imp.impute(x)[0].double().numpy())
    elif method == "kalman":
        if run.family != "lds":
            raise RunError(f"--method kalman needs an lds run; {run.run_dir} is {run.family}")
        if data.values.shape[1] != 1:
            raise RunError("--method kalman imputes the target column only; this file has covariates")
        z = run.scaler.transform(data.values)[:, 0]
        filled = run.scaler.inverse_transform(run.model.smooth_impute(z).reshape(-1, 1))
    else:
        filled = linear_interpolate(data.values)
    observed = ~np.isnan(data.values)
    filled = np.where(observed, data.values, filled)
    return filled, data.columns, method


def run_info(run_dir: Path, raw: dict[str, Any]) -> dict[str, Any]:
    from unrolled.tasks.forecast.task import TASK

    cfg, raw = load_run_config(TASK, run_dir)
    m, d = cfg.model, cfg.data
    if m.model in FITTED:
        what = {"esn": f"ESN, {m.units} units", "ar": "AR" + (f"({m.ar_order})" if m.ar_order else " (BIC)")}
        description = what.get(m.model, f"LDS, state dimension {m.lds_state_dim}")
    else:
        description = f"{m.model} forecaster ({m.strategy}), {m.layers} layer(s) x {m.hidden}"
    description += f", window {d.window}, horizon {d.horizon}"
    return {
        "description": description,
        "model": to_dict(m),
        "data": {**(raw.get("series") or {}), **to_dict(d)},
    }
