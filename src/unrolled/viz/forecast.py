"""Forecast pictures: forecast against actual values with shaded intervals, and error against horizon (drift).

matplotlib with the Agg backend (no display needed); each ``*_figure`` function returns the Figure so callers and
tests can inspect it, each ``plot_*`` writes a PNG and closes it.

Example::

    >>> plot_forecast("f.png", actual=y_test, mean=f.mean, lower=f.lower, upper=f.upper, history=y_train)
    ... # doctest: +SKIP
    >>> plot_drift("drift.png", {"recursive": rmse_by_h, "direct": rmse_direct_by_h})  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["drift_figure", "forecast_figure", "plot_drift", "plot_forecast"]


def _vector(name: str, value: object, length: int | None = None) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name} to be a 1-D array of numbers, got {type(value).__name__}") from None
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"expected {name} to be a non-empty 1-D array (one series), got shape {a.shape}")
    if length is not None and a.size != length:
        raise ValueError(f"expected {name} to have {length} values like the forecast mean, got {a.size}")
    return a


def forecast_figure(
    actual: object,
    mean: object,
    lower: object = None,
    upper: object = None,
    history: object = None,
    title: str = "forecast",
    level: float | None = None,
) -> Figure:
    """Actual values and the forecast mean over the forecast steps, the interval shaded, history before them.

    Args:
        actual: true values over the h forecast steps (NaN allowed: not drawn), ``(h,)``.
        mean: forecast mean, ``(h,)``.
        lower, upper: interval bounds, ``(h,)`` each, or both ``None``.
        history: values before the forecast origin, ``(n,)``, drawn at steps -n..-1.
        title: axes title.
        level: interval coverage for the legend (e.g. 0.95).
    """
    m = _vector("mean", mean)
    h = m.size
    a = _vector("actual", actual, h)
    if (lower is None) != (upper is None):
        raise ValueError("expected both lower and upper interval bounds, or neither")
    fig, ax = plt.subplots(figsize=(8, 4))
    steps = np.arange(1, h + 1)
    if history is not None:
        hist = _vector("history", history)
        ax.plot(np.arange(-hist.size + 1, 1), hist, color="0.4", lw=1.0, label="history")
    ax.plot(steps, a, color="black", lw=1.2, label="actual")
    ax.plot(steps, m, color="tab:blue", lw=1.5, label="forecast")
    if lower is not None:
        lo, up = _vector("lower", lower, h), _vector("upper", upper, h)
        if (lo > up).any():
            raise ValueError("expected lower <= upper at every step")
        label = f"{level:.0%} interval" if level is not None else "interval"
        ax.fill_between(steps, lo, up, color="tab:blue", alpha=0.25, label=label)
    ax.axvline(0.5, color="0.7", lw=0.8, ls="--")
    ax.set_xlabel("steps after the forecast origin")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def drift_figure(
    errors: Mapping[str, object],
    horizons: Sequence[int] | None = None,
    metric: str = "RMSE",
    title: str = "error against forecast horizon",
) -> Figure:
    """One line per method: its error at each horizon (how predictions drift as the horizon grows).

    Args:
        errors: method name -> errors, ``(K,)`` each, one per horizon.
        horizons: the K horizons (default 1..K).
        metric: y-axis label.
        title: axes title.
    """
    if not isinstance(errors, Mapping) or not errors:
        raise ValueError("expected errors to be a non-empty mapping of method name -> errors per horizon")
    curves = {str(name): _vector(f"errors[{name!r}]", e) for name, e in errors.items()}
    K = next(iter(curves.values())).size
    for name, e in curves.items():
        if e.size != K:
            raise ValueError(f"expected every method to have {K} errors (one per horizon), {name!r} has {e.size}")
    hz = np.arange(1, K + 1) if horizons is None else _vector("horizons", horizons, K)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, e in curves.items():
        ax.plot(hz, e, marker="o", ms=3, label=name)
    ax.set_xlabel("horizon (steps ahead)")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def _save(fig: Figure, path: str | os.PathLike[str]) -> None:
    try:
        fig.savefig(os.fspath(path), format="png", dpi=100)
    finally:
        plt.close(fig)


def plot_forecast(path: str | os.PathLike[str], actual: object, mean: object, **kwargs: object) -> None:
    """Write :func:`forecast_figure` as a PNG at ``path``."""
    _save(forecast_figure(actual, mean, **kwargs), path)


def plot_drift(path: str | os.PathLike[str], errors: Mapping[str, object], **kwargs: object) -> None:
    """Write :func:`drift_figure` as a PNG at ``path``."""
    _save(drift_figure(errors, **kwargs), path)
