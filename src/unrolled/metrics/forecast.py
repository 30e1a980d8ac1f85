r"""Forecast errors: MSE, RMSE, NRMSE, MAE, MASE, NaN-aware in the target.

With :math:`e_i = \hat y_i - y_i` over the N entries whose target is observed (NaN targets are skipped, so a
series with gaps can be scored; a NaN in the *prediction* is an error, never silently dropped):

.. math::

    \mathrm{MSE} = \tfrac1N \textstyle\sum e_i^2, \quad \mathrm{RMSE} = \sqrt{\mathrm{MSE}}, \quad
    \mathrm{NRMSE} = \mathrm{RMSE} / \sigma_y, \quad \mathrm{MAE} = \tfrac1N \textstyle\sum |e_i|, \quad
    \mathrm{MASE} = \mathrm{MAE} \,/\, \tfrac{1}{n-m}\textstyle\sum_{t>m} |y^{\text{train}}_t - y^{\text{train}}_{t-m}|

NRMSE divides by the **standard deviation of the target** (population, ddof 0, over its observed entries), as in
the reservoir-computing literature (Jaeger 2001): 1.0 is the error of always predicting the target's mean.
MASE (Hyndman & Koehler 2006, "Another look at measures of forecast accuracy") scales by the in-sample MAE of
the naive (seasonal, period m) forecast on the *training* series; below 1 beats that naive forecast.

Every function takes arrays or tensors of the same shape (any shape; all entries pooled) and returns a float.

Example::

    >>> rmse([1.0, 2.0, 4.0], [1.0, 2.0, 2.0])
    1.1547005383792515
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["FORECAST_METRICS", "by_horizon", "mae", "mase", "mse", "nrmse", "rmse"]


def _array(name: str, value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name} to be an array of numbers, got {type(value).__name__}") from None


def _errors(prediction: object, target: object) -> tuple[np.ndarray, np.ndarray]:
    """Errors on the entries with an observed target, and those targets (both 1-D)."""
    p, y = _array("prediction", prediction), _array("target", target)
    if p.shape != y.shape:
        raise ValueError(f"expected prediction and target of the same shape, got {p.shape} and {y.shape}")
    if np.isnan(p).any():
        raise ValueError(f"prediction holds {int(np.isnan(p).sum())} NaN values; expected a complete forecast")
    if np.isinf(p).any() or np.isinf(y).any():
        raise ValueError("expected finite prediction and target, got inf")
    seen = ~np.isnan(y)
    if not seen.any():
        raise ValueError("no observed target values to score (empty, or all NaN)")
    return p[seen] - y[seen], y[seen]


def mse(prediction: object, target: object) -> float:
    """Mean squared error over the entries whose target is observed."""
    e, _ = _errors(prediction, target)
    return float(np.mean(e**2))


def rmse(prediction: object, target: object) -> float:
    """Root mean squared error over the entries whose target is observed."""
    return math.sqrt(mse(prediction, target))


def nrmse(prediction: object, target: object) -> float:
    """RMSE normalised by the standard deviation (ddof 0) of the observed target values."""
    e, y = _errors(prediction, target)
    sd = float(np.std(y))
    if sd == 0.0:
        raise ValueError("NRMSE is undefined: the target is constant (standard deviation 0)")
    return math.sqrt(float(np.mean(e**2))) / sd


def mae(prediction: object, target: object) -> float:
    """Mean absolute error over the entries whose target is observed."""
    e, _ = _errors(prediction, target)
    return float(np.mean(np.abs(e)))


def mase(prediction: object, target: object, train: object, season: int = 1) -> float:
    """MAE scaled by the in-sample MAE of the naive forecast :math:`\\hat y_t = y_{t-m}` on ``train``.

    Args:
        prediction, target: the forecast and the truth (same shape; NaN targets skipped).
        train: the training series, ``(n,)`` or ``(n, D)`` with time first; NaN pairs are skipped.
        season: m >= 1 (1: the random-walk forecast).
    """
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"expected season to be an int >= 1, got {season!r}")
    tr = _array("train", train)
    if tr.ndim == 0 or tr.shape[0] <= season:
        raise ValueError(f"expected a training series longer than season={season}, got shape {tr.shape}")
    diffs = np.abs(tr[season:] - tr[:-season])
    diffs = diffs[~np.isnan(diffs)]
    scale = float(diffs.mean()) if diffs.size else float("nan")
    if not scale > 0.0:
        raise ValueError(f"MASE is undefined: the naive (season {season}) forecast of the training series is exact")
    return mae(prediction, target) / scale


# name -> metric of (prediction, target); MASE needs the training series and is not listed
FORECAST_METRICS = {"mse": mse, "rmse": rmse, "nrmse": nrmse, "mae": mae}


def by_horizon(prediction: object, target: object, metric: str = "rmse") -> np.ndarray:
    """One score per forecast horizon, for drift-against-horizon curves.

    Args:
        prediction, target: ``(N, K)``: N forecast origins, K horizons (column k = k + 1 steps ahead).
        metric: a name in :data:`FORECAST_METRICS`.

    Returns:
        ``(K,)`` float64: ``metric(prediction[:, k], target[:, k])`` for each k.
    """
    if metric not in FORECAST_METRICS:
        raise ValueError(f"expected metric to be one of {sorted(FORECAST_METRICS)}, got {metric!r}")
    p, y = _array("prediction", prediction), _array("target", target)
    if p.ndim != 2 or p.shape != y.shape:
        raise ValueError(f"expected prediction and target of the same shape (N, K), got {p.shape} and {y.shape}")
    return np.array([FORECAST_METRICS[metric](p[:, k], y[:, k]) for k in range(p.shape[1])])
