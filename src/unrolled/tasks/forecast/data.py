"""The forecasting task's series: read (CSV, generator, statsmodels), gaps handled, split in time, scaled on the
training part, windowed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unrolled.data.gaps import linear_interpolate
from unrolled.data.series import GENERATORS, generate
from unrolled.data.series_csv import read_series_csv, statsmodels_dataset
from unrolled.data.windows import SCALERS, Scaler, SeriesSplit, split
from unrolled.tasks.forecast.config import ForecastDataConfig
from unrolled.tasks.runs import RunError

__all__ = ["SeriesData", "load_series", "read_columns"]


@dataclass
class SeriesData:
    """The series as the models see it.

    Shape:
        values (T, F): raw values, the target first, then the covariates; scaled (T, F): after the scaler.
    """

    values: np.ndarray
    columns: list[str]
    source: str
    filled: int = 0

    @property
    def target(self) -> np.ndarray:
        return self.values[:, 0]


def read_columns(cfg: ForecastDataConfig, path: str | None = None) -> SeriesData:
    """Read the configured columns from ``path`` (default: ``cfg.source``); a generator name needs no file."""
    source = path or cfg.source
    if path is None and source in GENERATORS:
        cols = generate(source, cfg.length, cfg.seed)
        target = cfg.target or GENERATORS[source][1]
        names = [target, *cfg.covariates]
        missing = [n for n in names if n not in cols]
        if missing:
            raise RunError(f"the {source} series has columns {sorted(cols)}; got {missing}")
        return SeriesData(
            np.stack([cols[n] for n in names], axis=1), names, f"{source} (length {cfg.length}, seed {cfg.seed})"
        )
    if source.startswith("statsmodels:"):
        table = statsmodels_dataset(source.split(":", 1)[1])
    else:
        p = Path(source)
        if not p.is_file():
            raise RunError(
                f"data source {source!r} is neither a file nor a generated series ({', '.join(sorted(GENERATORS))})"
            )
        names = None if cfg.target is None else [cfg.target, *cfg.covariates]
        try:
            table = read_series_csv(p, columns=names, time_column=cfg.time_column)
        except (ValueError, UnicodeDecodeError) as e:
            raise RunError(f"{source}: {' '.join(str(e).split())}") from None
    columns = list(table.columns)
    target = cfg.target or columns[0]
    names = [target, *cfg.covariates]
    for n in names:
        if n not in columns:
            raise RunError(f"{source} has no column {n!r}; expected one of {columns}")
    values = np.stack([table.column(n) for n in names], axis=1)  # (T, F)
    return SeriesData(values, names, source)


def handle_gaps(data: SeriesData, fill: str) -> SeriesData:
    """Refuse gaps (``fill="none"``) with a one-line error, or fill them by linear interpolation."""
    gaps = int(np.isnan(data.values).sum())
    if gaps == 0:
        return data
    if fill == "none":
        t = int(np.argwhere(np.isnan(data.values))[0][0])
        raise RunError(
            f"{data.source} has {gaps} missing value(s) (first at row {t}); pass --fill linear, or fill them first "
            "with 'unrolled impute RUN --data FILE'"
        )
    return SeriesData(linear_interpolate(data.values), data.columns, data.source, filled=gaps)


def load_series(cfg: ForecastDataConfig) -> tuple[SeriesData, SeriesSplit, Scaler]:
    """The series, its time-ordered split and the scaler fitted on the training part."""
    data = handle_gaps(read_columns(cfg), cfg.fill)
    T = len(data.values)
    parts = split(T, cfg.valid_fraction, cfg.test_fraction)
    if parts.train_end <= cfg.window + cfg.horizon or T - parts.valid_end < cfg.horizon:
        raise RunError(
            f"a series of {T} steps split {parts.train_end}/{parts.valid_end - parts.train_end}/"
            f"{T - parts.valid_end} is too short for window {cfg.window} and horizon {cfg.horizon}"
        )
    scaler = SCALERS[cfg.scaler]().fit(data.values[: parts.train_end])
    return data, parts, scaler
