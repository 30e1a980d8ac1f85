r"""Teacher forcing, free running and scheduled sampling: the probability of feeding the reference token.

A decoder trained with *teacher forcing* is fed the reference :math:`y_{t-1}`; *free running* feeds its own
prediction; *scheduled sampling* (Bengio et al. 2015, "Scheduled Sampling for Sequence Prediction with Recurrent
Neural Networks", §2.4) flips a coin per token, feeding the reference with probability :math:`\epsilon_i` that
decays with the training step (or epoch) :math:`i`:

================  =====================================================  ======================================
name              :math:`\epsilon_i`                                     parameters
================  =====================================================  ======================================
``constant``      :math:`\epsilon` (1: teacher forcing, 0: free running) ``start`` = :math:`\epsilon`
``linear``        :math:`\max(\epsilon_{min}, k - c\,i)`                 ``start`` = k, ``slope`` = c, ``floor``
``exponential``   :math:`\max(\epsilon_{min}, k^i)`, :math:`k < 1`        ``k``, ``floor``
``inverse_sigmoid`` :math:`k / (k + \exp(i / k))`, :math:`k \ge 1`        ``k``
================  =====================================================  ======================================

Schedules are resolved by name through :data:`TEACHER_FORCING_SCHEDULES`; a task asks ``schedule(i)`` and logs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "TEACHER_FORCING_SCHEDULES",
    "ConstantTeacherForcing",
    "ExponentialDecay",
    "InverseSigmoidDecay",
    "LinearDecay",
    "build_teacher_forcing",
]


def _check(name: str, value: object, low: float, high: float, low_open: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or value > high or (low_open and value == low):
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"teacher forcing {name} must be a number in {interval}, got {value!r}")
    return float(value)


def _check_step(i: object) -> int:
    if isinstance(i, bool) or not isinstance(i, int) or i < 0:
        raise ValueError(f"teacher forcing schedule step must be an integer >= 0, got {i!r}")
    return i


@dataclass(frozen=True)
class ConstantTeacherForcing:
    r""":math:`\epsilon_i = \epsilon`: teacher forcing (1.0), free running (0.0) or a fixed mix."""

    start: float = 1.0

    def __post_init__(self) -> None:
        _check("start", self.start, 0.0, 1.0)

    def __call__(self, i: int) -> float:
        _check_step(i)
        return self.start


@dataclass(frozen=True)
class LinearDecay:
    r"""Linear decay (Bengio et al. 2015, §2.4): :math:`\epsilon_i = \max(\epsilon_{min}, k - c\,i)`."""

    start: float = 1.0
    slope: float = 0.01
    floor: float = 0.0

    def __post_init__(self) -> None:
        _check("start", self.start, 0.0, 1.0)
        _check("slope", self.slope, 0.0, 1.0)
        _check("floor", self.floor, 0.0, 1.0)

    def __call__(self, i: int) -> float:
        return max(self.floor, self.start - self.slope * _check_step(i))


@dataclass(frozen=True)
class ExponentialDecay:
    r"""Exponential decay (Bengio et al. 2015, §2.4): :math:`\epsilon_i = \max(\epsilon_{min}, k^i)`, k < 1."""

    k: float = 0.99
    floor: float = 0.0

    def __post_init__(self) -> None:
        _check("k", self.k, 0.0, 1.0, low_open=True)
        _check("floor", self.floor, 0.0, 1.0)

    def __call__(self, i: int) -> float:
        return max(self.floor, self.k ** _check_step(i))


@dataclass(frozen=True)
class InverseSigmoidDecay:
    r"""Inverse sigmoid decay (Bengio et al. 2015, §2.4): :math:`\epsilon_i = k / (k + \exp(i/k))`, k >= 1."""

    k: float = 10.0

    def __post_init__(self) -> None:
        _check("k", self.k, 1.0, math.inf)

    def __call__(self, i: int) -> float:
        x = _check_step(i) / self.k
        return self.k / (self.k + math.exp(x)) if x < 700 else 0.0


TEACHER_FORCING_SCHEDULES: dict[str, type] = {
    "constant": ConstantTeacherForcing,
    "linear": LinearDecay,
    "exponential": ExponentialDecay,
    "inverse_sigmoid": InverseSigmoidDecay,
}


def build_teacher_forcing(name: str = "constant", **options: float):
    """The schedule registered as ``name`` with its options, e.g. ``build_teacher_forcing("linear", slope=0.1)``.

    Example::

        >>> build_teacher_forcing("exponential", k=0.5)(2)
        0.25
    """
    if name not in TEACHER_FORCING_SCHEDULES:
        raise ValueError(f"teacher forcing schedule must be one of {sorted(TEACHER_FORCING_SCHEDULES)}, got {name!r}")
    cls = TEACHER_FORCING_SCHEDULES[name]
    try:
        return cls(**options)
    except TypeError:
        valid = sorted(cls.__dataclass_fields__)
        raise ValueError(f"teacher forcing schedule {name!r} takes {valid}, got {sorted(options)}") from None
