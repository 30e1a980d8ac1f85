"""Windows of time series for forecasting: time-ordered splits, scaling fitted on the training part, and
(input window, target horizon) pairs from one or many series with covariates.

Nothing here ever looks forward: a window's inputs are the W values strictly before its first target, the splits
are contiguous in time (train, then validation, then test; never shuffled across a boundary), the windows of a part
have all their targets inside that part (their inputs may reach back into the parts before it, which are past), and
the scaler's statistics come from the training part alone.

Example::

    >>> x = np.arange(20.0).reshape(-1, 1)
    >>> w = make_windows(x, window=3, horizon=2)
    >>> w.inputs[0, :, 0].tolist(), w.targets[0, :, 0].tolist()
    ([0.0, 1.0, 2.0], [3.0, 4.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SCALERS", "MinMaxScaler", "Scaler", "SeriesSplit", "StandardScaler", "Windows", "make_windows", "split"]


def check_series(values: object, name: str = "series") -> np.ndarray:
    """``values`` as a float64 (T, F) array (a (T,) array becomes (T, 1)); one-line errors for bad input or NaN."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name} to hold numbers, got {type(values).__name__}") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"expected {name} of shape (T,) or (T, F) with T, F >= 1, got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        t, f = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} has {int(bad.sum())} missing or non-finite value(s) (first at time {t}, column {f}); "
            "fill them first (unrolled impute, or linear interpolation)"
        )
    return arr


class Scaler:
    """A per-column affine map :math:`z = (x - \\mu) / s` fitted on training data only."""

    def __init__(self) -> None:
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, x: np.ndarray) -> Scaler:
        x = check_series(x, "the training part")
        shift, scale = self._stats(x)
        self.shift, self.scale = shift, np.where(scale > 0, scale, 1.0)  # a constant column is only shifted
        return self

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self.shift is None or self.scale is None:
            raise ValueError(f"{type(self).__name__} used before fit(); fit it on the training part first")
        return self.shift, self.scale

    def transform(self, x: np.ndarray) -> np.ndarray:
        shift, scale = self._fitted()
        return (np.asarray(x, dtype=np.float64) - shift) / scale

    def inverse_transform(self, z: np.ndarray, columns: Sequence[int] | None = None) -> np.ndarray:
        """Undo :meth:`transform`; ``columns`` picks the statistics of a subset (e.g. the target columns)."""
        shift, scale = self._fitted()
        if columns is not None:
            shift, scale = shift[list(columns)], scale[list(columns)]
        return np.asarray(z, dtype=np.float64) * scale + shift

    def state(self) -> dict[str, list[float]]:
        shift, scale = self._fitted()
        return {"shift": shift.tolist(), "scale": scale.tolist()}

    def load(self, state: dict[str, list[float]]) -> Scaler:
        self.shift, self.scale = np.asarray(state["shift"]), np.asarray(state["scale"])
        return self


class StandardScaler(Scaler):
    """Zero mean and unit standard deviation per column (population std) on the training part."""

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(axis=0), x.std(axis=0)


class MinMaxScaler(Scaler):
    """Each column's training range mapped to [0, 1]."""

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = x.min(axis=0)
        return lo, x.max(axis=0) - lo


class IdentityScaler(Scaler):
    """No scaling."""

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(x.shape[1]), np.ones(x.shape[1])


SCALERS: dict[str, type[Scaler]] = {"standard": StandardScaler, "minmax": MinMaxScaler, "none": IdentityScaler}


@dataclass
class SeriesSplit:
    """The boundaries of a time-ordered split: train ``[0, train_end)``, valid ``[train_end, valid_end)``,
    test ``[valid_end, T)``."""

    length: int
    train_end: int
    valid_end: int

    def parts(self) -> dict[str, tuple[int, int]]:
        return {
            "train": (0, self.train_end),
            "valid": (self.train_end, self.valid_end),
            "test": (self.valid_end, self.length),
        }


def split(length: int, valid_fraction: float = 0.1, test_fraction: float = 0.2) -> SeriesSplit:
    """Contiguous train / validation / test parts of a series of ``length`` steps, in time order."""
    for name, f in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f < 1:
            raise ValueError(f"expected {name} in [0, 1), got {f!r}")
    if valid_fraction + test_fraction >= 1:
        raise ValueError(f"expected valid_fraction + test_fraction < 1, got {valid_fraction + test_fraction}")
    n_test = int(round(length * test_fraction))
    n_valid = int(round(length * valid_fraction))
    train_end = length - n_test - n_valid
    if train_end < 1:
        raise ValueError(f"a series of {length} steps leaves no training part with these fractions")
    return SeriesSplit(length, train_end, train_end + n_valid)


@dataclass
class Windows:
    """(input window, target horizon) pairs.

    Shape:
        N windows, W window, H horizon, F input columns, O target columns, C future covariates.

        - inputs: (N, W, F); targets: (N, H, O); future: (N, H, C) (the known covariates at the target times,
          or None); start: (N,), the time index of each window's first target (and its series in ``series``).
    """

    inputs: np.ndarray
    targets: np.ndarray
    future: np.ndarray | None
    start: np.ndarray
    series: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)


def make_windows(
    data: np.ndarray | Sequence[np.ndarray],
    window: int,
    horizon: int,
    target_columns: Sequence[int] = (0,),
    future_columns: Sequence[int] = (),
    first_target: int | None = None,
    last_target: int | None = None,
    stride: int = 1,
) -> Windows:
    """All windows of one series (T, F) or many (a list, each (T_i, F)) whose targets lie in
    ``[first_target, last_target)`` (default: the whole series after the first window).

    Window n with first target at time t has inputs ``data[t-W:t]`` (every column: targets and past covariates)
    and targets ``data[t:t+H, target_columns]``; ``future`` holds ``data[t:t+H, future_columns]``, covariates
    known in advance (e.g. calendar), if any are named.
    """
    for name, v, lo in (("window", window, 1), ("horizon", horizon, 1), ("stride", stride, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"expected {name} to be an int >= {lo}, got {v!r}")
    many = isinstance(data, (list, tuple))
    series = [check_series(d, f"series {i}" if many else "series") for i, d in enumerate(data if many else [data])]
    F = series[0].shape[1]
    if any(s.shape[1] != F for s in series):
        raise ValueError(f"expected every series to have {F} columns, got {[s.shape[1] for s in series]}")
    for name, cols in (("target_columns", target_columns), ("future_columns", future_columns)):
        if any(not 0 <= c < F for c in cols):
            raise ValueError(f"expected {name} in [0, {F}), got {list(cols)}")
    if not target_columns:
        raise ValueError("expected at least one target column")
    inputs, targets, future, starts, which = [], [], [], [], []
    for i, s in enumerate(series):
        T = len(s)
        lo = window if first_target is None else max(first_target, window)
        hi = T if last_target is None else min(last_target, T)
        for t in range(lo, hi - horizon + 1, stride):
            inputs.append(s[t - window : t])  # (W, F): strictly before t
            targets.append(s[t : t + horizon, list(target_columns)])  # (H, O)
            if future_columns:
                future.append(s[t : t + horizon, list(future_columns)])  # (H, C)
            starts.append(t)
            which.append(i)
    if not inputs:
        raise ValueError(
            f"no window of {window} inputs and {horizon} targets fits in the range (series lengths "
            f"{[len(s) for s in series]}, targets in [{first_target}, {last_target}))"
        )
    return Windows(
        inputs=np.stack(inputs),
        targets=np.stack(targets),
        future=np.stack(future) if future_columns else None,
        start=np.asarray(starts),
        series=np.asarray(which),
    )
