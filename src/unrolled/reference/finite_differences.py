"""Central finite differences: check a hand-written gradient against the definition of the derivative.

For a scalar function f and a small step ε, the central difference

    ∂f/∂x_k ≈ (f(x + ε e_k) - f(x - ε e_k)) / (2ε)

has a truncation error of order ε² (the ε¹ terms of the two Taylor expansions cancel), against ε for the
one-sided difference. In float64 with ε = 1e-6 the truncation error is about 1e-12 and the rounding error
about 1e-16 / 1e-6 = 1e-10 (relative to the size of f), so a correct gradient agrees to roughly 1e-8 and a
wrong one is off by order one. See Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 11.5
"Debugging Strategies", on gradient checking.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "relative_error"]


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Estimate ∂f/∂x by central differences, one element of ``x`` at a time.

    For every index k::

        grad[k] = (f(x + ε e_k) - f(x - ε e_k)) / (2ε)

    ``x`` is perturbed **in place** and restored exactly after each element (also when ``f`` raises), so ``f`` may read it either
    from its argument or through a closure, e.g. a field of a parameter dataclass such as ``params.W``.

    Args:
        f: a function of ``x`` that returns a real scalar.
        x: the point at which to differentiate; must be a float64 array (float32 is too coarse for
            a step of 1e-6).
        eps: the step ε, > 0.

    Shape:
        - x: any shape
        - returns an array with the shape of ``x``

    Examples::

        >>> x = np.array([1.0, 2.0, 3.0])
        >>> np.round(numerical_gradient(lambda v: float(np.sum(v**3)), x), 6)  # ∂/∂x Σ x³ = 3x²
        array([ 3., 12., 27.])
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"x: expected a float64 numpy array (perturbed in place), got {got}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps: expected a finite step > 0, got {eps}")
    if not x.flags.writeable:
        raise ValueError("x: expected a writeable array (it is perturbed in place), got a read-only array")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + eps
            f_plus = _scalar(f(x))
            x[index] = original - eps
            f_minus = _scalar(f(x))
        finally:
            x[index] = original  # restored even when f raises
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def _scalar(value: object) -> float:
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"f: expected f(x) to return a real scalar, got shape {array.shape} dtype {array.dtype}")
    return float(array.reshape(()))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """The relative distance ‖a - b‖ / max(‖a‖ + ‖b‖, 1e-300), with ‖.‖ the Euclidean norm over all elements.

    0 for equal arrays (including two zero arrays), at most 1 for any pair; a correct analytic gradient
    compared with :func:`numerical_gradient` gives about 1e-8 or less.

    Args:
        a, b: arrays of the same shape.

    Examples::

        >>> relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
        0.0
        >>> relative_error(np.array([1.0, 0.0]), np.array([-1.0, 0.0]))
        1.0
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a {a.shape}, got {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))
