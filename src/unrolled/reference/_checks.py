"""Input checks shared by the reference implementations.

Every public function of :mod:`unrolled.reference` validates its arguments up front, so that a wrong shape
gives one line such as ``xs: expected shape (B, T, I=3), got (2, 4, 5)`` instead of a broadcasting error
from deep inside a loop. The helpers return float64 arrays; an array that already is float64 is returned as
the very same object (no copy), which lets :func:`~unrolled.reference.numerical_gradient` perturb parameters
in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# One expected dimension: its symbol (B, T, I, H, V, 4H, ...) and its size, or None when any size >= 1 is fine.
Dim = tuple[str, int | None]


def _describe(expected: Sequence[Dim]) -> str:
    parts = [symbol if size is None else f"{symbol}={size}" for symbol, size in expected]
    return "(" + ", ".join(parts) + ")"


def as_float_array(name: str, value: object, expected: Sequence[Dim]) -> np.ndarray:
    """Return ``value`` as a float64 array whose shape matches ``expected``, else raise a one-line error.

    Args:
        name: how the argument is called in the message, e.g. ``"xs"`` or ``"weight_ih"``.
        value: anything :func:`numpy.asarray` turns into a real-valued array.
        expected: one ``(symbol, size)`` pair per dimension; ``size=None`` accepts any size >= 1.

    Raises:
        TypeError: ``value`` is not a real-valued array.
        ValueError: the shape differs from ``expected``.
    """
    if np.iscomplexobj(value):
        raise TypeError(f"{name}: expected a real-valued array, got complex values")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real-valued array, got {type(value).__name__}") from None
    fits = array.ndim == len(expected) and all(
        (size is None and got >= 1) or got == size for (_, size), got in zip(expected, array.shape)
    )
    if not fits:
        raise ValueError(f"{name}: expected shape {_describe(expected)}, got {tuple(array.shape)}")
    return array


def as_class_indices(name: str, value: object, expected: Sequence[Dim], num_classes: int) -> np.ndarray:
    """Return ``value`` as an int64 array of class indices in ``[0, num_classes)``, else raise a one-line error."""
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name}: expected integer class indices, got dtype {array.dtype}")
    if array.shape != tuple(size for _, size in expected):
        raise ValueError(f"{name}: expected shape {_describe(expected)}, got {tuple(array.shape)}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"{name}: expected class indices in [0, {num_classes}), got values in [{array.min()}, {array.max()}]"
        )
    return array.astype(np.int64, copy=False)


def optional_float_array(name: str, value: object, expected: Sequence[Dim]) -> np.ndarray:
    """Like :func:`as_float_array`, but ``None`` becomes zeros of the expected shape (all sizes must be known)."""
    if value is None:
        return np.zeros(tuple(size for _, size in expected), dtype=np.float64)
    return as_float_array(name, value, expected)
