"""Gap filling baselines: linear interpolation of missing values (NaN) in series.

The simplest imputer, the one learned imputers (a bidirectional RNN, the Kalman smoother of
``unrolled.models.lds.LinearDynamicalSystem.smooth_impute``) must beat. Interior gaps are filled on the straight
line between the nearest observed neighbours (by index, i.e. equally spaced time); leading and trailing gaps
repeat the first / last observed value (no extrapolated trend).

Example::

    >>> linear_interpolate(np.array([1.0, np.nan, 3.0, np.nan]))
    array([1., 2., 3., 3.])
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["gap_mask", "linear_interpolate"]


def _as_array(y: object) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    try:
        a = np.array(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected a 1-D or 2-D array of numbers, got {type(y).__name__}") from None
    if a.ndim not in (1, 2):
        raise ValueError(f"expected a series of shape (T,) or (T, D), got {a.shape}")
    if np.isinf(a).any():
        raise ValueError("expected finite numbers or NaN (missing), got inf")
    return a


def gap_mask(y: object) -> np.ndarray:
    """Boolean array, True where ``y`` is missing (NaN); same shape as ``y``."""
    return np.isnan(_as_array(y))


def linear_interpolate(y: object) -> np.ndarray:
    """Fill NaN gaps of each column by linear interpolation in the time index.

    Args:
        y: ``(T,)`` or ``(T, D)`` float series, NaN = missing; every column needs an observed value.

    Returns:
        A new float64 array of the same shape with no NaN; observed values unchanged.
    """
    a = _as_array(y)
    out = a[:, None].copy() if a.ndim == 1 else a.copy()  # (T, D)
    t = np.arange(out.shape[0])
    for d in range(out.shape[1]):
        seen = ~np.isnan(out[:, d])
        if not seen.any():
            raise ValueError(f"column {d} is entirely missing (NaN); nothing to interpolate from")
        out[~seen, d] = np.interp(t[~seen], t[seen], out[seen, d])
    return out[:, 0] if a.ndim == 1 else out
