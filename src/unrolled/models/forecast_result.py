"""The result of a probabilistic forecast: a Gaussian mean and a central interval per step (AR and LDS models)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["Forecast", "check_level", "normal_quantile"]


def check_level(level: object) -> float:
    """Return ``level`` as a float in (0, 1), else raise a one-line error."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < float(level) < 1.0:
        raise ValueError(f"expected level to be a coverage probability in (0, 1), got {level!r}")
    return float(level)


def normal_quantile(level: float) -> float:
    """The two-sided standard-normal quantile :math:`z_{(1+\\text{level})/2}` (1.959964... for 0.95)."""
    return NormalDist().inv_cdf(0.5 + check_level(level) / 2.0)


@dataclass(frozen=True)
class Forecast:
    """An h-step Gaussian forecast: ``mean ± z * std`` with ``z`` the normal quantile of ``level``.

    Iterating yields ``(mean, lower, upper)``, so ``mean, lower, upper = model.forecast(h)`` works.

    Shape:
        Every array is ``(h,)`` for a univariate series and ``(h, D)`` for D series, h = forecast steps.
    """

    mean: np.ndarray
    std: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float

    @classmethod
    def gaussian(cls, mean: np.ndarray, std: np.ndarray, level: float) -> Forecast:
        z = normal_quantile(level)
        return cls(mean=mean, std=std, lower=mean - z * std, upper=mean + z * std, level=float(level))

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.mean
        yield self.lower
        yield self.upper
