"""The forecasting task as the shared machinery sees it: options, evaluate, predict, info, and the ``forecast`` and
``impute`` commands.

    unrolled train forecast --data mackey-glass --horizon 10 --model lstm --strategy direct
    unrolled train forecast --data series.csv --target load --horizon 24 --model ar
    unrolled evaluate RUN [--data FILE] [--json]
    unrolled predict RUN [FILE]                         # the next H steps after FILE (or the run's series)
    unrolled forecast RUN --horizon H [--plot out.png]
    unrolled impute RUN --data FILE [--output out.csv] [--method auto|rnn|kalman|linear]
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from unrolled.config_io import ConfigError
from unrolled.tasks.forecast.config import (
    FILLS,
    HOW_FITTED,
    OWN_KEYS,
    ForecastRunConfig,
    inapplicable_keys,
    model_families,
)
from unrolled.tasks.options import RESUME_KEYS, RESUME_OPTIONS, training_options
from unrolled.tasks.spec import Command, Option, Report, Task

__all__ = ["TASK"]


_D, _M = "data", "model"

TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("--data", "a CSV file (header row; empty or NA cells missing), a generated series (mackey-glass, "
           "narma10, lorenz, sine) or statsmodels:sunspots|co2|nile", "data.source", metavar="SOURCE", group=_D),
    Option("--target", "the column to forecast (default: the series' first / the generator's)", "data.target",
           metavar="COLUMN", group=_D),
    Option("--covariate", "another column fed as input (direct strategy); repeat for more", "data.covariates",
           repeat=True, metavar="COLUMN", group=_D),
    Option("--time-column", "a CSV column of time labels (not a value)", "data.time_column", metavar="COLUMN",
           group=_D),
    Option("--length", "length of a generated series (default 2000)", "data.length", int, "T", group=_D),
    Option("--horizon", "forecast steps H (default 1)", "data.horizon", int, "H", group=_D),
    Option("--window", "input steps W (default 32)", "data.window", int, "W", group=_D),
    Option("--scaler", "standard (default), minmax or none; fitted on the training part", "data.scaler",
           choices=["standard", "minmax", "none"], group=_D),
    Option("--fill", "gaps: none (an error, default) or linear interpolation", "data.fill", choices=list(FILLS),
           group=_D),
    Option("--batch-size", "windows per batch (default 64)", "data.batch_size", int, "B", group=_D),
    Option("--model", "lstm (default), gru, elman or any cell; esn, ar, lds (fitted in closed form / EM)",
           "model.model", choices=model_families, metavar="MODEL", group=_M),
    Option("--strategy", "recursive (default: one-step model fed its predictions) or direct (encoder-decoder)",
           "model.strategy", choices=["recursive", "direct"], group=_M),
    Option("--hidden", "hidden units (default 32)", "model.hidden", int, "H", group=_M),
    Option("--layers", "stacked layers (default 1)", "model.layers", int, "N", group=_M),
    Option("--gaussian", "a Gaussian head (mean, log-variance) trained by NLL, for intervals", "model.gaussian",
           switch=True, group=_M),
    Option("--units", "ESN reservoir units (default 200)", "model.units", int, "N", group=_M),
    Option("--spectral-radius", "ESN spectral radius (default 1.25)", "model.spectral_radius", float, group=_M),
    Option("--leak-rate", "ESN leak rate (default 0.3)", "model.leak_rate", float, group=_M),
    Option("--ridge", "ESN ridge penalty (default 1e-6)", "model.ridge", float, group=_M),
    Option("--ar-order", "AR order (default 0: chosen by BIC)", "model.ar_order", int, "P", group=_M),
    Option("--state-dim", "LDS state dimension (default 2)", "model.lds_state_dim", int, "S", group=_M),
    Option("--imputer", "also train a bidirectional RNN imputer (for 'unrolled impute')", "model.imputer",
           switch=True, group=_M),
    *training_options(
        epochs="passes over the windows (default 10)",
        lr="learning rate (default 3e-3)",
        optimizer="default adam",
        clip="clip the global gradient norm (default 5)",
    ),
)  # fmt: skip


#: a pointer to the setting that does what a refused one would, by (family, key)
_INSTEAD = {
    ("esn", "train.l2"): "the readout's penalty is --ridge",
    ("lds", "train.epochs"): "EM iterations are --set model.em_iters=N",
}


def prepare(raw: dict[str, Any], explicit: set[str], given: dict[str, Any]) -> None:
    """Refuse, in one line, the settings the user gave (flags, ``--config`` keys, ``--set``) that the chosen model
    cannot use: training flags for the models fitted in closed form or by EM, another family's settings."""
    family = raw.get("model", {}).get("model") if isinstance(raw.get("model"), dict) else None
    if not isinstance(family, str) or family not in model_families():
        return  # the typed config names the bad value
    bad = inapplicable_keys(family, explicit)
    if not bad:
        return
    flags = {o.key: o.flag for o in TRAIN_OPTIONS if o.dest in given and o.key is not None}
    names = [flags.get(k, k) for k in bad]  # the flag the user typed, else the key of --set / --config
    if family in HOW_FITTED:
        how = HOW_FITTED[family]
    else:  # a network given the settings of fitted families
        owners = sorted({f for f, own in OWN_KEYS.items() for k in bad if k in own})
        how = f"a recurrent network; {', '.join(names)} {'is' if len(names) == 1 else 'are'} for --model " + (
            " / ".join(owners)
        )
    hints = [_INSTEAD[family, k] for k in bad if (family, k) in _INSTEAD]
    verb, it = ("does", "it") if len(names) == 1 else ("do", "them")
    raise ConfigError(
        f"{', '.join(names)} {verb} not apply to --model {family} ({how}); remove {it}"
        + "".join(f" ({h})" for h in hints)
    )


def evaluate(run_dir: Path, opts: dict[str, Any]) -> Report:
    """Forecast errors on the run's test part (or on every window of ``--data FILE``)."""
    from unrolled.tasks.forecast.data import handle_gaps, read_columns
    from unrolled.tasks.forecast.run import evaluate_part, format_metrics, load_run

    run = load_run(run_dir)
    path = opts.get("data")
    if path is None:
        metrics, where = evaluate_part(run, "test"), "test part"
    else:
        data = handle_gaps(read_columns(run.config.data, str(path)), run.config.data.fill)
        metrics, where = evaluate_part(run, "file", data), str(path)
    steps = ", ".join(f"{v:.4g}" for v in metrics["rmse_by_step"])
    lines = [f"{run.run_dir} on {where}:", format_metrics(metrics), f"RMSE by horizon step: {steps}"]
    if run.note:
        lines.insert(0, f"note: {run.note}")
    return Report(metrics, "\n".join(lines), data=where)


def _forecast_lines(run, horizon: int, path: str | None) -> tuple[list[str], tuple]:
    from unrolled.tasks.forecast.run import forecast_future

    history, mean, lower, upper = forecast_future(run, horizon, path)
    lines = ["step\tmean" + ("\tlower\tupper" if lower is not None else "")]
    for k in range(horizon):
        extra = f"\t{lower[k]:.6g}\t{upper[k]:.6g}" if lower is not None else ""
        lines.append(f"{k + 1}\t{mean[k]:.6g}{extra}")
    return lines, (history, mean, lower, upper)


def predict(run_dir: Path, opts: dict[str, Any]) -> list[str]:
    """``unrolled predict RUN [FILE]``: the run's horizon forecast after the end of FILE (or the run's series)."""
    from unrolled.tasks.forecast.run import load_run

    run = load_run(run_dir)
    path = opts.get("input")
    if path == "-":
        from unrolled.tasks.runs import RunError

        raise RunError("forecast predict reads a CSV file, not standard input; give its path")
    return _forecast_lines(run, run.config.data.horizon, path)[0]


def forecast_command(opts: dict[str, Any]) -> int:
    """``unrolled forecast RUN --horizon H [--data FILE] [--plot out.png]``."""
    from unrolled.tasks.forecast.run import load_run
    from unrolled.tasks.runs import RunError

    run = load_run(opts["run"])
    horizon = opts.get("horizon") or run.config.data.horizon
    if horizon < 1:
        raise RunError(f"--horizon must be >= 1, got {horizon}")
    lines, (history, mean, lower, upper) = _forecast_lines(run, horizon, opts.get("data"))
    print("\n".join(lines))
    if opts.get("plot"):
        import numpy as np

        from unrolled.viz.forecast import plot_forecast

        plot_forecast(
            opts["plot"], np.full(horizon, np.nan), mean, lower=lower, upper=upper, history=history[-200:],
            title=f"{run.columns[0]}: {horizon}-step forecast", level=0.95 if lower is not None else None,
        )  # fmt: skip
        print(f"plot: {opts['plot']}", file=sys.stderr)
    return 0


def impute_command(opts: dict[str, Any]) -> int:
    """``unrolled impute RUN --data FILE [--output out.csv] [--method ...]``: the file's gaps filled."""
    from unrolled.tasks.forecast.run import impute_file, load_run

    run = load_run(opts["run"])
    filled, columns, method = impute_file(run, str(opts["data"]), opts.get("method") or "auto")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([[f"{v:.10g}" for v in row] for row in filled])
    out = opts.get("output")
    if out:
        Path(out).write_text(buf.getvalue(), encoding="utf-8")
        print(f"imputed {opts['data']} with {method}: {out}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
    return 0


def info(run_dir: Path, raw: dict[str, Any]) -> dict[str, Any]:
    from unrolled.tasks.forecast.run import run_info

    return run_info(run_dir, raw)


def train(cfg: ForecastRunConfig, session) -> Any:
    from unrolled.tasks.forecast.run import train_in_session

    return train_in_session(cfg, session)


FORECAST = Command(
    name="forecast",
    help="forecast the steps after a forecasting run's series (or a CSV file), with intervals where the model has them",
    run=forecast_command,
    options=(
        Option("run", "a forecasting run folder", metavar="RUN"),
        Option("--horizon", "steps to forecast (default: the run's horizon)", type=int, metavar="H"),
        Option("--data", "forecast after the end of this CSV file instead of the run's series", metavar="FILE"),
        Option("--plot", "write a PNG of the history and the forecast", metavar="PNG"),
    ),
)

IMPUTE = Command(
    name="impute",
    help="fill the gaps of a CSV series with a forecasting run's imputer (or the Kalman smoother, or linearly)",
    run=impute_command,
    options=(
        Option("run", "a forecasting run folder", metavar="RUN"),
        Option("--data", "the CSV file with gaps (empty or NA cells)", metavar="FILE"),
        Option("--output", "write the filled CSV here (default: standard output)", metavar="CSV"),
        Option("--method", "auto (default), rnn, kalman or linear", choices=["auto", "rnn", "kalman", "linear"]),
    ),
)

TASK = Task(
    name="forecast",
    summary="forecast time series (recurrent networks, echo state networks, AR and linear dynamical systems)",
    description="Train a forecaster on a CSV series or a generated one (mackey-glass, narma10, lorenz, sine).",
    config_type=ForecastRunConfig,
    train=train,
    evaluate=evaluate,
    predict=predict,
    info=info,
    train_options=TRAIN_OPTIONS,
    resume_options=RESUME_OPTIONS,
    resume_keys=RESUME_KEYS,
    commands=(FORECAST, IMPUTE),
    prepare=prepare,
)
