"""Seeded generators of the standard benchmark series: Mackey-Glass, NARMA-n, Lorenz, noisy sine mixtures.

Every generator is a pure function of its arguments and ``seed`` (a ``numpy.random.Generator`` built from it), so
the same call returns the same array. Arrays are ``float64`` numpy arrays; time runs along the first axis.
:func:`generate` resolves a generator by name (``"mackey-glass"``, ``"narma10"``, ``"lorenz"``, ``"sine"``) and
returns named columns, the form the forecasting task reads series in.

Example::

    >>> x = mackey_glass(1000, seed=0)
    >>> x.shape
    (1000,)
    >>> cols = generate("narma10", 500, seed=1)
    >>> sorted(cols)
    ['u', 'y']
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["GENERATORS", "generate", "lorenz", "mackey_glass", "narma", "noisy_sines"]


def _check_length(n_steps: object) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"expected n_steps to be an int >= 1, got {n_steps!r}")
    return n_steps


def _mg_step(x: float, x_tau: float, a: float, b: float, n: int, h: float) -> float:
    # The discretisation used by reservoirpy.datasets.mackey_glass (and the ESN literature that benchmarks on its
    # series): one Runge-Kutta-style step of size h with the delayed term x(t - tau) held fixed over the step.
    bh = -b * h
    k1 = bh * x + a * x_tau / (1.0 + x_tau**n)
    k2 = 2.0 * k1 + bh * k1
    k3 = 2.0 * k1 + bh * k2
    k4 = k1 + bh * k3
    return x + (k1 + k2 + k3 + k4) / 6.0


def mackey_glass(
    n_steps: int,
    tau: int = 17,
    a: float = 0.2,
    b: float = 0.1,
    n: int = 10,
    x0: float = 1.2,
    h: float = 1.0,
    seed: int | None = 0,
    history: np.ndarray | None = None,
) -> np.ndarray:
    r"""The Mackey-Glass delay differential equation (Mackey & Glass 1977), sampled every ``h`` time units.

    .. math::
        \frac{dx}{dt} = a \frac{x(t-\tau)}{1 + x(t-\tau)^n} - b x(t)

    Integrated as reservoirpy does (``reservoirpy.datasets.mackey_glass``: a fixed step ``h`` with the delayed value
    held over the step), so that ESN figures are comparable with the literature: with ``history`` given the output
    equals reservoirpy's exactly. With tau = 17 the series is chaotic and stays within about [0.2, 1.4].

    Args:
        n_steps: number of samples T.
        tau: the delay :math:`\tau` (17: the chaotic regime used in the ESN literature).
        a, b, n: the equation's parameters.
        x0: initial value :math:`x(0)`.
        h: the step between samples.
        seed: seeds the random history :math:`x0 + U(-0.1, 0.1)` before t = 0 when ``history`` is not given.
        history: the values before t = 0 (at least ``floor(tau / h)`` of them; the last ones are used).

    Shape:
        - Output: :math:`(T,)`.
    """
    T = _check_length(n_steps)
    lag = int(math.floor(tau / h))
    if history is None:
        rng = np.random.default_rng(seed)
        past = x0 * np.ones(lag) + 0.2 * (rng.random(lag) - 0.5)
    else:
        past = np.asarray(history, dtype=np.float64).reshape(-1)
        if len(past) < lag:
            raise ValueError(f"expected a history of at least floor(tau / h) = {lag} values, got {len(past)}")
        past = past[len(past) - lag :]
    x = np.empty(lag + T)
    x[:lag] = past
    xt = float(x0)
    for i in range(lag, lag + T):
        x[i] = xt
        x_tau = x[i - lag] if tau > 0 else 0.0
        xt = _mg_step(xt, x_tau, a, b, n, h)
    return x[lag:].copy()


def narma(
    n_steps: int,
    order: int = 10,
    alpha: float = 0.3,
    beta: float = 0.05,
    gamma: float = 1.5,
    delta: float = 0.1,
    seed: int | None = 0,
    u: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The NARMA-n system (Atiya & Parlos 2000), driven by i.i.d. input :math:`u(t) \sim U[0, 0.5]`.

    .. math::
        y(t+1) = \alpha y(t) + \beta y(t) \sum_{i=0}^{n-1} y(t-i) + \gamma u(t-n+1) u(t) + \delta

    with :math:`y(t) = 0` for :math:`t < n`. The defaults are the NARMA10 coefficients used throughout the reservoir
    literature; for larger n the smaller ones (0.2, 0.004, 1.5, 0.001) keep the system bounded.

    Args:
        n_steps: number of samples T.
        order: the memory n.
        alpha, beta, gamma, delta: the coefficients.
        seed: seeds the input when ``u`` is not given.
        u: the input, T values (drawn when not given).

    Returns:
        ``(u, y)``: the input and the output, aligned in time (``y[t+1]`` depends on ``u[t]`` and ``u[t-n+1]``).

    Shape:
        - Outputs: :math:`(T,)` and :math:`(T,)`.
    """
    T = _check_length(n_steps)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"expected order to be an int >= 1, got {order!r}")
    if u is None:
        u = np.random.default_rng(seed).uniform(0.0, 0.5, size=T)
    else:
        u = np.asarray(u, dtype=np.float64).reshape(-1)
        if len(u) != T:
            raise ValueError(f"expected u to have n_steps={T} values, got {len(u)}")
    y = np.zeros(T)
    for t in range(order - 1, T - 1):
        y[t + 1] = alpha * y[t] + beta * y[t] * y[t - order + 1 : t + 1].sum() + gamma * u[t - order + 1] * u[t] + delta
        if abs(y[t + 1]) > 1e6:
            raise ValueError(f"NARMA{order} diverged with these coefficients (seed={seed}); choose smaller ones")
    return u.copy(), y


def _lorenz_rhs(s: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    x, y, z = s
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])


def lorenz(
    n_steps: int,
    dt: float = 0.01,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    x0: tuple[float, float, float] = (1.0, 1.0, 1.0),
    seed: int | None = 0,
    warmup: int = 1000,
) -> np.ndarray:
    r"""The Lorenz (1963) system, integrated with classical fourth-order Runge-Kutta at step ``dt``.

    .. math::
        \dot x = \sigma (y - x), \quad \dot y = x (\rho - z) - y, \quad \dot z = x y - \beta z

    Args:
        n_steps: number of samples T (one per ``dt``).
        dt: the RK4 step and the sampling interval.
        sigma, rho, beta: the parameters (the defaults give the chaotic attractor).
        x0: the initial state, perturbed by :math:`N(0, 0.01^2)` drawn from ``seed``.
        seed: seeds the perturbation.
        warmup: RK4 steps run and dropped first, so the output starts on the attractor.

    Shape:
        - Output: :math:`(T, 3)`, columns x, y, z.
    """
    T = _check_length(n_steps)
    s = np.asarray(x0, dtype=np.float64) + 0.01 * np.random.default_rng(seed).standard_normal(3)
    out = np.empty((T, 3))

    def step(s: np.ndarray) -> np.ndarray:
        k1 = _lorenz_rhs(s, sigma, rho, beta)
        k2 = _lorenz_rhs(s + 0.5 * dt * k1, sigma, rho, beta)
        k3 = _lorenz_rhs(s + 0.5 * dt * k2, sigma, rho, beta)
        k4 = _lorenz_rhs(s + dt * k3, sigma, rho, beta)
        return s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    for _ in range(warmup):
        s = step(s)
    for t in range(T):
        out[t] = s
        s = step(s)
    return out


def noisy_sines(
    n_steps: int,
    n_components: int = 3,
    period_range: tuple[float, float] = (10.0, 100.0),
    noise: float = 0.1,
    seed: int | None = 0,
) -> np.ndarray:
    r"""A sum of sines with random periods, amplitudes and phases, plus Gaussian noise.

    .. math::
        x(t) = \sum_{k=1}^{K} a_k \sin(2\pi t / p_k + \phi_k) + \sigma \epsilon_t, \quad
        a_k \sim U[0.5, 1.5],\ p_k \sim U[p_{min}, p_{max}],\ \phi_k \sim U[0, 2\pi),\ \epsilon_t \sim N(0, 1)

    Args:
        n_steps: number of samples T.
        n_components: the number of sines K.
        period_range: the range of the periods :math:`p_k`, in samples.
        noise: the noise standard deviation :math:`\sigma`.
        seed: seeds everything.

    Shape:
        - Output: :math:`(T,)`.
    """
    T = _check_length(n_steps)
    if n_components < 1:
        raise ValueError(f"expected n_components >= 1, got {n_components}")
    lo, hi = period_range
    if not 0 < lo <= hi:
        raise ValueError(f"expected 0 < period_range[0] <= period_range[1], got {period_range}")
    if noise < 0:
        raise ValueError(f"expected noise >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    amp = rng.uniform(0.5, 1.5, n_components)
    period = rng.uniform(lo, hi, n_components)
    phase = rng.uniform(0.0, 2 * np.pi, n_components)
    t = np.arange(T, dtype=np.float64)[:, None]  # (T, 1)
    x = (amp * np.sin(2 * np.pi * t / period + phase)).sum(axis=1)  # (T,)
    return x + noise * rng.standard_normal(T)


def _gen_mackey_glass(n: int, seed: int) -> dict[str, np.ndarray]:
    return {"x": mackey_glass(n, seed=seed)}


def _gen_narma10(n: int, seed: int) -> dict[str, np.ndarray]:
    u, y = narma(n, order=10, seed=seed)
    return {"u": u, "y": y}


def _gen_lorenz(n: int, seed: int) -> dict[str, np.ndarray]:
    s = lorenz(n, seed=seed)
    return {"x": s[:, 0], "y": s[:, 1], "z": s[:, 2]}


def _gen_sine(n: int, seed: int) -> dict[str, np.ndarray]:
    return {"x": noisy_sines(n, seed=seed)}


# name -> (generator of named columns, the default target column)
GENERATORS: dict[str, tuple[Callable[[int, int], dict[str, np.ndarray]], str]] = {
    "mackey-glass": (_gen_mackey_glass, "x"),
    "narma10": (_gen_narma10, "y"),
    "lorenz": (_gen_lorenz, "x"),
    "sine": (_gen_sine, "x"),
}


def generate(name: str, n_steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Named columns of the built-in series ``name`` (one of :data:`GENERATORS`), each of shape ``(T,)``."""
    if name not in GENERATORS:
        raise ValueError(f"expected a generated series name, one of {sorted(GENERATORS)}, got {name!r}")
    return GENERATORS[name][0](n_steps, seed)
