r"""Autoregressive model AR(p) with an intercept: the linear baseline every recurrent forecaster must beat.

.. math::

    y_t = c + \sum_{i=1}^{p} \phi_i\, y_{t-i} + \varepsilon_t, \qquad \varepsilon_t \sim \mathcal{N}(0, \sigma^2)

Two estimators, resolved by name through :data:`FITTERS`:

* ``"ols"``: least squares on :math:`y_{p+1..T}` given the first p values, i.e. the conditional maximum likelihood
  estimate, exactly what ``statsmodels.tsa.ar_model.AutoReg(y, p, trend="c")`` computes;
  :math:`\hat\sigma^2 = \mathrm{SSR} / (T - p)` (the MLE, no degrees-of-freedom correction).
* ``"yule_walker"``: solve the Yule-Walker equations :math:`\Gamma_p \phi = \gamma_{1..p}` on the demeaned series
  (Box, Jenkins & Reinsel, "Time Series Analysis", sec. 3.2.2), as ``statsmodels.regression.linear_model.
  yule_walker``: autocovariances with denominator T (``yw_method="mle"``, always a stationary fit) or T - k
  (``"adjusted"``); :math:`\hat\sigma^2 = \hat\gamma_0 - \phi^\top \hat\gamma_{1..p}` and
  :math:`c = \bar y\,(1 - \sum_i \phi_i)`.

The log-likelihood is the conditional Gaussian one of :math:`y_{p+1..T}` given the first p values. Multi-step
forecasts iterate the recursion with future noise set to 0; the h-step error is
:math:`\sum_{j=0}^{h-1} \psi_j \varepsilon_{T+h-j}` with the MA(:math:`\infty`) weights
:math:`\psi_0 = 1,\ \psi_j = \sum_{i=1}^{\min(j,p)} \phi_i \psi_{j-i}` (Box et al. sec. 5.1), so its variance is
:math:`\sigma^2 \sum_{j<h} \psi_j^2` (parameter uncertainty ignored, as in statsmodels).

A ``(T, D)`` array fits D independent AR(p) models, one per column. Pure NumPy in float64; parameters travel
as a dict of tensors (:meth:`ARModel.state_dict`) for safetensors.

Shape:
    y: ``(T,)`` or ``(T, D)``; intercept ``(D,)``, coef ``(D, p)`` (``coef[:, i]`` multiplies
    :math:`y_{t-1-i}`), sigma2 ``(D,)``, or a float, ``(p,)`` and a float for a 1-D series; forecasts ``(h,)``
    or ``(h, D)``.

Example::

    >>> rng = np.random.default_rng(0)
    >>> y = np.zeros(500)
    >>> for t in range(2, 500):
    ...     y[t] = 0.5 + 0.6 * y[t - 1] - 0.2 * y[t - 2] + rng.normal()
    >>> model = ARModel.fit(y, order=2)
    >>> mean, lower, upper = model.forecast(10)
    >>> select_order(y, max_order=8, criterion="bic").order
    2
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from unrolled.models.forecast_result import Forecast, check_level

__all__ = ["CRITERIA", "FITTERS", "ARModel", "OrderSelection", "select_order"]

_LOG_2PI = math.log(2.0 * math.pi)


def _check_order(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"expected {name} to be an int >= 0, got {value!r}")
    return int(value)


def _as_series(y: object, name: str = "y") -> tuple[np.ndarray, bool]:
    """``y`` as a finite float64 ``(T, D)`` array and whether it was 1-D; one-line errors otherwise."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    try:
        a = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name} to be a 1-D or 2-D array of numbers, got {type(y).__name__}") from None
    if a.ndim not in (1, 2):
        raise ValueError(f"expected {name} to be 1-D (T,) or 2-D (T, D), got shape {a.shape}")
    if np.isnan(a).any():
        t = int(np.argwhere(np.isnan(a))[0][0])
        raise ValueError(
            f"{name} holds {int(np.isnan(a).sum())} NaN values (first at t={t}); the AR model needs a complete "
            "series: fill gaps first (unrolled.data.gaps.linear_interpolate or LinearDynamicalSystem.smooth_impute)"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"expected {name} to hold finite numbers, got inf")
    univariate = a.ndim == 1
    return (a[:, None] if univariate else a), univariate


def _lags(y: np.ndarray, order: int, start: int) -> np.ndarray:
    """Design rows [1, y_{t-1}, ..., y_{t-p}] for t = start..T-1 of a 1-D series."""
    T = y.shape[0]
    X = np.ones((T - start, order + 1))  # (T - start, p + 1)
    for i in range(1, order + 1):
        X[:, i] = y[start - i : T - i]
    return X


def _fit_ols(y: np.ndarray, order: int, yw_method: str) -> tuple[float, np.ndarray, float]:
    """Least squares / conditional MLE (as statsmodels AutoReg with trend='c')."""
    X = _lags(y, order, order)  # (T - p, p + 1)
    target = y[order:]
    beta = np.linalg.lstsq(X, target, rcond=None)[0]
    resid = target - X @ beta
    return float(beta[0]), beta[1:], float(resid @ resid / target.shape[0])


def _fit_yule_walker(y: np.ndarray, order: int, yw_method: str) -> tuple[float, np.ndarray, float]:
    """Yule-Walker on the demeaned series (as statsmodels.regression.linear_model.yule_walker)."""
    T = y.shape[0]
    mean = float(y.mean())
    x = y - mean
    adjusted = yw_method == "adjusted"
    r = np.array([x @ x / T] + [x[:-k] @ x[k:] / (T - k if adjusted else T) for k in range(1, order + 1)])
    lags = np.arange(order)
    gamma = r[np.abs(lags[:, None] - lags[None, :])]  # (p, p) Toeplitz
    phi = np.linalg.solve(gamma, r[1:]) if order else np.zeros(0)
    sigma2 = float(r[0] - r[1:] @ phi)
    if not sigma2 > 0.0:
        raise ValueError(f"Yule-Walker gave a non-positive innovation variance {sigma2:.3g}; try method='ols'")
    return mean * (1.0 - float(phi.sum())), phi, sigma2


FITTERS: dict[str, Callable[[np.ndarray, int, str], tuple[float, np.ndarray, float]]] = {
    "ols": _fit_ols,
    "yule_walker": _fit_yule_walker,
}
_YW_METHODS = ("mle", "adjusted")


def _penalty_aic(n: int) -> float:
    return 2.0


def _penalty_bic(n: int) -> float:
    return math.log(n)


def _penalty_hqic(n: int) -> float:
    return 2.0 * math.log(math.log(n))


# information criterion -> penalty per parameter given the number of observations: IC = -2 llf + penalty * k
CRITERIA: dict[str, Callable[[int], float]] = {"aic": _penalty_aic, "bic": _penalty_bic, "hqic": _penalty_hqic}


def _conditional_llf(y: np.ndarray, intercept: float, coef: np.ndarray, sigma2: float) -> float:
    """Gaussian log-likelihood of y[p:] given y[:p] (1-D series)."""
    p = coef.shape[0]
    resid = y[p:] - _lags(y, p, p) @ np.concatenate([[intercept], coef])
    n = resid.shape[0]
    return float(-0.5 * (n * (_LOG_2PI + math.log(sigma2)) + resid @ resid / sigma2))


class ARModel:
    r"""A fitted (or given) AR(p) model with intercept, for one series or D independent ones.

    Build it with :meth:`fit`, or from known parameters (for simulation and tests).

    Args:
        intercept: :math:`c`, ``(D,)`` (or a float for one series).
        coef: :math:`\phi_{1..p}`, ``(D, p)`` (or ``(p,)`` for one series).
        sigma2: innovation variance :math:`\sigma^2 > 0`, ``(D,)`` (or a float).
        history: the last values seen (at least p of them), ``(n,)`` or ``(n, D)``: the default starting point of
            :meth:`forecast`. Optional.
        method: the estimator that produced the parameters (informational).
        nobs: number of observations the fit's likelihood used (T - p), 0 if not fitted.
        log_likelihood: the fit's conditional log-likelihood (``nan`` if not fitted).

    Example::

        >>> model = ARModel(intercept=0.0, coef=[0.5], sigma2=1.0)
        >>> model.forecast(3, history=[2.0]).mean
        array([1.  , 0.5 , 0.25])
    """

    def __init__(
        self,
        intercept: object,
        coef: object,
        sigma2: object,
        history: object = None,
        method: str = "given",
        nobs: int = 0,
        log_likelihood: object = None,
    ) -> None:
        coef_a = np.asarray(coef, dtype=np.float64)
        self.univariate = coef_a.ndim == 1
        coef_a = coef_a[None, :] if self.univariate else coef_a
        if coef_a.ndim != 2:
            raise ValueError(f"expected coef of shape (p,) or (D, p), got {np.shape(coef)}")
        D = coef_a.shape[0]
        inter = np.broadcast_to(np.asarray(intercept, dtype=np.float64), (D,)).copy()
        s2 = np.broadcast_to(np.asarray(sigma2, dtype=np.float64), (D,)).copy()
        if not (np.isfinite(coef_a).all() and np.isfinite(inter).all() and np.isfinite(s2).all()):
            raise ValueError("expected finite AR parameters (intercept, coef, sigma2)")
        if (s2 <= 0).any():
            raise ValueError(f"expected sigma2 > 0, got {s2.tolist()}")
        self._c, self._phi, self._s2 = inter, coef_a, s2  # (D,), (D, p), (D,)
        self.method, self.nobs = method, int(nobs)
        self.log_likelihood_ = (
            np.full(D, np.nan) if log_likelihood is None else np.asarray(log_likelihood, dtype=np.float64)
        )
        self.history = None if history is None else self._history(history)

    # ---- fitting -------------------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, y: object, order: int, method: str = "ols", yw_method: str = "mle") -> ARModel:
        """Fit AR(``order``) with an intercept to each column of ``y``.

        Args:
            y: the training series, ``(T,)`` or ``(T, D)``, finite (no NaN).
            order: p >= 0 (0 is the mean model).
            method: ``"ols"`` (conditional MLE, as statsmodels AutoReg) or ``"yule_walker"``.
            yw_method: Yule-Walker autocovariance denominator, ``"mle"`` (T) or ``"adjusted"`` (T - k).

        Returns:
            The fitted model, remembering the last p training values for :meth:`forecast`.
        """
        p = _check_order("order", order)
        if method not in FITTERS:
            raise ValueError(f"expected method to be one of {sorted(FITTERS)}, got {method!r}")
        if yw_method not in _YW_METHODS:
            raise ValueError(f"expected yw_method to be one of {list(_YW_METHODS)}, got {yw_method!r}")
        Y, univariate = _as_series(y)  # (T, D)
        T, D = Y.shape
        if T - p < p + 2:
            raise ValueError(f"AR({p}) needs a series of at least {2 * p + 2} values, got {T}")
        fitter = FITTERS[method]
        inter, coef, s2, llf = np.zeros(D), np.zeros((D, p)), np.zeros(D), np.zeros(D)
        for d in range(D):
            inter[d], coef[d], s2[d] = fitter(Y[:, d], p, yw_method)
            if not s2[d] > 1e-20 * float(np.mean(Y[:, d] ** 2)) + 1e-300:  # zero up to rounding
                where = "the series" if univariate else f"column {d}"
                raise ValueError(f"{where} is fitted exactly (residual variance 0: constant?); AR needs a noisy series")
            llf[d] = _conditional_llf(Y[:, d], inter[d], coef[d], s2[d])
        return cls(
            intercept=inter if not univariate else inter[0],
            coef=coef[0] if univariate else coef,
            sigma2=s2 if not univariate else s2[0],
            history=Y[T - p :, 0] if univariate else Y[T - p :],
            method=method,
            nobs=T - p,
            log_likelihood=llf,
        )

    # ---- properties ----------------------------------------------------------------------------------------------
    @property
    def intercept(self) -> np.ndarray | float:
        """c: a float for one series given as 1-D, else ``(D,)``."""
        return self._out(self._c)

    @property
    def coef(self) -> np.ndarray:
        """phi_1..phi_p: ``(p,)`` for one series given as 1-D, else ``(D, p)``."""
        return self._phi[0].copy() if self.univariate else self._phi.copy()

    @property
    def sigma2(self) -> np.ndarray | float:
        """Innovation variance: a float for one series given as 1-D, else ``(D,)``."""
        return self._out(self._s2)

    @property
    def order(self) -> int:
        return self._phi.shape[1]

    @property
    def n_series(self) -> int:
        return self._phi.shape[0]

    def _out(self, a: np.ndarray) -> np.ndarray | float:
        """Per-series values as a float (one series given as 1-D) or a (D,) array."""
        return float(a[0]) if self.univariate else a

    def criterion(self, name: str) -> np.ndarray | float:
        """Information criterion ``-2 llf + penalty(n) * k`` with k = p + 2 parameters (intercept, p
        coefficients, sigma2), equal to statsmodels ``AutoRegResults.aic / .bic / .hqic``."""
        if name not in CRITERIA:
            raise ValueError(f"expected criterion to be one of {sorted(CRITERIA)}, got {name!r}")
        if self.nobs < 3:
            raise ValueError("information criteria need a fitted model (ARModel.fit)")
        k = self.order + 2
        return self._out(-2.0 * self.log_likelihood_ + CRITERIA[name](self.nobs) * k)

    @property
    def aic(self) -> np.ndarray | float:
        return self.criterion("aic")

    @property
    def bic(self) -> np.ndarray | float:
        return self.criterion("bic")

    # ---- using the model -----------------------------------------------------------------------------------------
    def _history(self, history: object) -> np.ndarray:
        H, univariate = _as_series(history, "history")  # (n, D)
        if H.shape[1] != self.n_series:
            raise ValueError(f"expected history with {self.n_series} series (columns), got shape {np.shape(history)}")
        if H.shape[0] < self.order:
            raise ValueError(f"AR({self.order}) needs at least {self.order} past values, got {H.shape[0]}")
        return H[H.shape[0] - self.order :]  # (p, D)

    def log_likelihood(self, y: object = None) -> np.ndarray | float:
        """Conditional Gaussian log-likelihood of ``y[p:]`` given ``y[:p]`` (default: the fit's own value)."""
        if y is None:
            return self._out(self.log_likelihood_)
        Y, _ = _as_series(y)
        if Y.shape[1] != self.n_series or Y.shape[0] <= self.order:
            raise ValueError(f"expected y of shape (T > {self.order}, {self.n_series}), got {np.shape(y)}")
        llf = [_conditional_llf(Y[:, d], self._c[d], self._phi[d], self._s2[d]) for d in range(Y.shape[1])]
        return self._out(np.array(llf))

    def predict(self, y: object) -> np.ndarray:
        """One-step-ahead predictions of ``y[p:]`` from the true past values: ``(T - p,)`` or ``(T - p, D)``."""
        Y, univariate = _as_series(y)
        if Y.shape[1] != self.n_series or Y.shape[0] <= self.order:
            raise ValueError(f"expected y of shape (T > {self.order}, {self.n_series}), got {np.shape(y)}")
        p = self.order
        pred = np.stack(
            [_lags(Y[:, d], p, p) @ np.concatenate([[self._c[d]], self._phi[d]]) for d in range(Y.shape[1])],
            axis=1,
        )  # (T - p, D)
        return pred[:, 0] if univariate else pred

    def psi_weights(self, steps: int) -> np.ndarray:
        r"""MA(:math:`\infty`) weights :math:`\psi_0..\psi_{steps-1}`, ``(D, steps)``."""
        psi = np.zeros((self.n_series, steps))
        psi[:, 0] = 1.0
        for j in range(1, steps):
            m = min(j, self.order)
            psi[:, j] = (self._phi[:, :m] * psi[:, j - 1 :: -1][:, :m]).sum(axis=1)
        return psi

    def forecast(self, steps: int, history: object = None, level: float = 0.95) -> Forecast:
        """Forecast ``steps`` values after ``history`` (default: the end of the training series).

        Args:
            steps: h >= 1.
            history: the last observed values, ``(n >= p,)`` or ``(n >= p, D)``; only the last p are used.
            level: coverage of the central Gaussian interval.

        Returns:
            :class:`Forecast` with mean, std, lower, upper of shape ``(h,)`` or ``(h, D)``.
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"expected steps to be an int >= 1, got {steps!r}")
        level = check_level(level)
        if history is None:
            if self.history is None:
                raise ValueError("no history to forecast from: pass history= (the last p observed values)")
            H = self.history
        else:
            H = self._history(history)
        p, D = self.order, self.n_series
        buf = np.concatenate([H, np.zeros((steps, D))])  # (p + h, D)
        for t in range(p, p + steps):
            lagged = buf[t - p : t][::-1]  # (p, D): y_{t-1}, ..., y_{t-p}
            buf[t] = self._c + (self._phi * lagged.T).sum(axis=1)
        mean = buf[p:]  # (h, D)
        std = np.sqrt(self._s2[:, None] * np.cumsum(self.psi_weights(steps) ** 2, axis=1)).T  # (h, D)
        if self.univariate:
            mean, std = mean[:, 0], std[:, 0]
        return Forecast.gaussian(mean, std, level)

    def simulate(self, steps: int, seed: int = 0, burn_in: int = 200) -> np.ndarray:
        """Draw a series of ``steps`` values (after ``burn_in`` discarded ones) from the model."""
        rng = np.random.default_rng(seed)
        p, D = self.order, self.n_series
        buf = np.zeros((p + burn_in + steps, D))
        noise = rng.normal(size=buf.shape) * np.sqrt(self._s2)
        for t in range(p, buf.shape[0]):
            lagged = buf[t - p : t][::-1]  # (p, D)
            buf[t] = self._c + noise[t] + (self._phi * lagged.T).sum(axis=1)
        out = buf[p + burn_in :]
        return out[:, 0] if self.univariate else out

    # ---- persistence ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters as float64 tensors (safetensors-ready): intercept (D,), coef (D, p), sigma2 (D,),
        history (p, D) when known, univariate () as 0/1."""
        out = {
            "intercept": torch.from_numpy(self._c.copy()),
            "coef": torch.from_numpy(self._phi.copy()),
            "sigma2": torch.from_numpy(self._s2.copy()),
            "univariate": torch.tensor(int(self.univariate)),
        }
        if self.history is not None:
            out["history"] = torch.from_numpy(np.ascontiguousarray(self.history))
        return out

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> ARModel:
        """Rebuild a model saved by :meth:`state_dict`."""
        missing = {"intercept", "coef", "sigma2", "univariate"} - set(state)
        if missing:
            raise ValueError(f"AR state dict lacks {sorted(missing)}; expected ARModel.state_dict() output")
        uni = bool(int(state["univariate"]))
        coef = state["coef"].double().numpy()
        hist = state["history"].double().numpy() if "history" in state else None
        return cls(
            intercept=state["intercept"].double().numpy(),
            coef=coef[0] if uni else coef,
            sigma2=state["sigma2"].double().numpy(),
            history=(hist[:, 0] if uni else hist) if hist is not None else None,
            method="loaded",
        )

    def __repr__(self) -> str:
        return f"ARModel(order={self.order}, n_series={self.n_series}, method={self.method!r})"


@dataclass(frozen=True)
class OrderSelection:
    """The order chosen by :func:`select_order` and the criterion of every candidate order."""

    order: int
    criterion: str
    values: dict[int, float]


def select_order(y: object, max_order: int, criterion: str = "bic") -> OrderSelection:
    """Choose p in 0..``max_order`` by an information criterion, all fits by OLS on the *same* sample
    ``y[max_order:]`` (so the likelihoods are comparable), as statsmodels ``ar_select_order`` (ties go to the
    smaller order).

    Args:
        y: one series, ``(T,)``, finite.
        max_order: largest order tried.
        criterion: ``"aic"``, ``"bic"`` or ``"hqic"``; k = p + 2 parameters (values then equal statsmodels'
            ``ar_select_order(...).bic`` plus the penalty of one parameter, the same for every order).

    Returns:
        :class:`OrderSelection`; fit the chosen order on the full series with :meth:`ARModel.fit`.
    """
    pmax = _check_order("max_order", max_order)
    if criterion not in CRITERIA:
        raise ValueError(f"expected criterion to be one of {sorted(CRITERIA)}, got {criterion!r}")
    Y, univariate = _as_series(y)
    if not univariate and Y.shape[1] != 1:
        raise ValueError(f"select_order takes one series (T,), got shape {np.shape(y)}; select per column")
    x = Y[:, 0]
    n = x.shape[0] - pmax
    if n < pmax + 3:
        raise ValueError(f"order selection up to {pmax} needs at least {2 * pmax + 3} values, got {x.shape[0]}")
    X = _lags(x, pmax, pmax)  # (n, pmax + 1)
    target = x[pmax:]
    values: dict[int, float] = {}
    for p in range(pmax + 1):
        beta = np.linalg.lstsq(X[:, : p + 1], target, rcond=None)[0]
        resid = target - X[:, : p + 1] @ beta
        if not resid @ resid > 1e-20 * float(target @ target) + 1e-300:
            raise ValueError(f"AR({p}) fits the series exactly (residual variance 0: constant?); AR needs noise")
        llf = -0.5 * n * (_LOG_2PI + math.log(resid @ resid / n) + 1.0)
        values[p] = -2.0 * llf + CRITERIA[criterion](n) * (p + 2)
    best = min(values, key=lambda p: (values[p], p))
    return OrderSelection(order=best, criterion=criterion, values=values)
