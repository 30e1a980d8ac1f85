r"""Linear dynamical system (linear-Gaussian state-space model): Kalman filter, RTS smoother, EM, forecasts.

.. math::

    x_t = A x_{t-1} + w_t,\quad w_t \sim \mathcal{N}(0, Q); \qquad
    y_t = C x_t + d + v_t,\quad v_t \sim \mathcal{N}(0, R); \qquad x_1 \sim \mathcal{N}(\mu_0, V_0)

(Bishop, "Pattern Recognition and Machine Learning", sec. 13.3, whose convention this follows: the initial
distribution is that of the first state, as in statsmodels' ``initialize_known``; :math:`d` is an observation
offset, 0 by default.) The recurrent network's linear ancestor: a hidden state carried through time, here with
exact inference.

* **Kalman filter** (:meth:`~LinearDynamicalSystem.filter`): predict :math:`\mu_{t|t-1} = A\mu_{t-1}`,
  :math:`P_{t|t-1} = A P_{t-1} A^\top + Q`; update with the innovation :math:`e_t = y_t - C\mu_{t|t-1} - d`,
  :math:`S_t = C P_{t|t-1} C^\top + R`, gain :math:`K_t = P_{t|t-1} C^\top S_t^{-1}` (computed with a solve, never
  an inverse), covariance in Joseph form :math:`(I - K C) P (I - K C)^\top + K R K^\top` (Bucy & Joseph 1968), which
  stays symmetric positive semi-definite under rounding. Missing observations (NaN) are skipped: a step with no
  observed entry has no update; a partly observed step updates with the observed rows of :math:`C, d, R` only
  (Durbin & Koopman, "Time Series Analysis by State Space Methods", sec. 4.10). Once the predicted covariance
  has converged over fully observed steps the gain is frozen (the steady-state filter, as statsmodels does) until
  the next gap.
* **Log-likelihood** by the prediction-error decomposition
  :math:`\sum_t -\tfrac12 (k_t \log 2\pi + \log|S_t| + e_t^\top S_t^{-1} e_t)`, :math:`k_t` observed entries.
* **RTS smoother** (Rauch, Tung & Striebel 1965): :math:`J_t = P_t A^\top P_{t+1|t}^{-1}`,
  :math:`\hat\mu_t = \mu_t + J_t(\hat\mu_{t+1} - \mu_{t+1|t})`, :math:`\hat V_t = P_t + J_t(\hat V_{t+1} -
  P_{t+1|t})J_t^\top`, and the lag-one covariance :math:`\mathrm{cov}(x_{t+1}, x_t \mid y) = \hat V_{t+1}J_t^\top`.
* **EM** (Shumway & Stoffer 1982; Ghahramani & Hinton 1996): the E-step is the smoother, the M-step maximises
  the expected complete-data log-likelihood in closed form for :math:`(A, Q)`, :math:`(C, d, R)` and
  :math:`(\mu_0, V_0)` jointly, so the likelihood never decreases. Missing entries of a partly observed step enter
  the observation update through their conditional moments given the state and the observed entries (Shumway &
  Stoffer, "Time Series Analysis and Its Applications", sec. 6.4); fully missing steps drop out of it.
* **Forecasts**: :math:`\mu_{T+h} = A^h \mu_T`, :math:`P_{T+h} = A P_{T+h-1} A^\top + Q`, observation mean
  :math:`C\mu_{T+h} + d` and covariance :math:`C P_{T+h} C^\top + R`.

Pure NumPy in float64; parameters travel as a dict of tensors (:meth:`~LinearDynamicalSystem.state_dict`).

Shape:
    y: ``(T,)`` or ``(T, D)`` (NaN = missing); transition A ``(S, S)``, observation C ``(D, S)``, offset d
    ``(D,)``, state_cov Q ``(S, S)``, obs_cov R ``(D, D)``, init_mean ``(S,)``, init_cov ``(S, S)``; filtered and
    smoothed means ``(T, S)``, covariances ``(T, S, S)``. S = state dimension, D = observed series.

Example::

    >>> lds = LinearDynamicalSystem(transition=[[0.9]], observation=[[1.0]], state_cov=[[0.1]], obs_cov=[[0.5]])
    >>> x, y = lds.sample(200, seed=0)
    >>> fitted = LinearDynamicalSystem.fit(y, state_dim=1, n_iter=20)
    >>> mean, lower, upper = fitted.forecast(y, steps=10)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from unrolled.models.forecast_result import Forecast, check_level

__all__ = ["EMResult", "FilterResult", "LDS", "LEARNABLE", "LinearDynamicalSystem", "SmoothResult"]

_LOG_2PI = math.log(2.0 * math.pi)
# the parameter groups EM can learn (each group is maximised jointly in the M-step)
LEARNABLE = ("transition", "state_cov", "observation", "offset", "obs_cov", "init")
_PARAMS = ("transition", "observation", "offset", "state_cov", "obs_cov", "init_mean", "init_cov")


def _sym(M: np.ndarray) -> np.ndarray:
    return 0.5 * (M + M.swapaxes(-1, -2))


def _matrix(name: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name} to be an array of numbers, got {type(value).__name__}") from None
    if a.shape != shape:
        raise ValueError(f"expected {name} of shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"expected {name} to hold finite numbers")
    return a


def _covariance(name: str, value: object, n: int, definite: bool) -> np.ndarray:
    M = _matrix(name, value, (n, n))
    if not np.allclose(M, M.T, rtol=1e-8, atol=1e-12):
        raise ValueError(f"expected {name} to be symmetric")
    M = _sym(M)
    low = float(np.linalg.eigvalsh(M).min()) if n else 0.0
    scale = max(1.0, float(np.abs(M).max()) if n else 1.0)
    if (definite and low <= 0.0) or low < -1e-10 * scale:
        kind = "positive definite" if definite else "positive semi-definite"
        raise ValueError(f"expected {name} to be {kind}, got smallest eigenvalue {low:.3g}")
    return M


def _solve_sym(S: np.ndarray, B: np.ndarray) -> np.ndarray:
    """S^{-1} B for a symmetric S, falling back to least squares when S is singular."""
    try:
        return np.linalg.solve(S, B)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(S, B, rcond=None)[0]


@dataclass(frozen=True)
class FilterResult:
    """Kalman filter output: one-step predictions (t | t-1), filtered moments (t | t), log-likelihood."""

    pred_means: np.ndarray  # (T, S)
    pred_covs: np.ndarray  # (T, S, S)
    means: np.ndarray  # (T, S)
    covs: np.ndarray  # (T, S, S)
    log_likelihood: float
    n_observed: int  # observed entries of y


@dataclass(frozen=True)
class SmoothResult:
    """RTS smoother output: moments of x_t given all of y, and cov(x_{t+1}, x_t | y)."""

    means: np.ndarray  # (T, S)
    covs: np.ndarray  # (T, S, S)
    lag_covs: np.ndarray  # (T - 1, S, S): cov(x_{t+1}, x_t | y_{1..T})
    filtered: FilterResult


@dataclass(frozen=True)
class EMResult:
    """EM's fitted model and the log-likelihood of every iterate (``log_likelihoods[0]`` = the start)."""

    model: LinearDynamicalSystem
    log_likelihoods: list[float]
    converged: bool


class LinearDynamicalSystem:
    r"""A linear-Gaussian state-space model (see the module docstring for the equations).

    Args:
        transition: A, ``(S, S)``.
        observation: C, ``(D, S)``.
        state_cov: Q, ``(S, S)``, symmetric positive semi-definite.
        obs_cov: R, ``(D, D)``, symmetric positive definite.
        offset: d, ``(D,)``; default 0.
        init_mean: :math:`\mu_0`, ``(S,)``, mean of the first state; default 0.
        init_cov: :math:`V_0`, ``(S, S)``; default the identity.

    Example::

        >>> lds = LinearDynamicalSystem([[1.0]], [[1.0]], state_cov=[[0.1]], obs_cov=[[1.0]])
        >>> lds.log_likelihood(np.array([0.3, np.nan, 0.1]))  # doctest: +SKIP
    """

    def __init__(
        self,
        transition: object,
        observation: object,
        state_cov: object,
        obs_cov: object,
        offset: object = None,
        init_mean: object = None,
        init_cov: object = None,
    ) -> None:
        C0 = np.asarray(observation.detach().cpu() if isinstance(observation, torch.Tensor) else observation)
        if C0.ndim != 2 or 0 in C0.shape:
            raise ValueError(f"expected observation (C) of shape (D, S), got {C0.shape}")
        D, S = C0.shape
        self.transition = _matrix("transition", transition, (S, S))  # (S, S)
        self.observation = _matrix("observation", observation, (D, S))  # (D, S)
        self.offset = np.zeros(D) if offset is None else _matrix("offset", offset, (D,))  # (D,)
        self.state_cov = _covariance("state_cov", state_cov, S, definite=False)  # (S, S)
        self.obs_cov = _covariance("obs_cov", obs_cov, D, definite=True)  # (D, D)
        self.init_mean = np.zeros(S) if init_mean is None else _matrix("init_mean", init_mean, (S,))  # (S,)
        self.init_cov = np.eye(S) if init_cov is None else _covariance("init_cov", init_cov, S, definite=False)

    @property
    def state_dim(self) -> int:
        return self.transition.shape[0]

    @property
    def obs_dim(self) -> int:
        return self.observation.shape[0]

    def _replace(self, **changes: np.ndarray) -> LinearDynamicalSystem:
        params = {name: getattr(self, name) for name in _PARAMS}
        params.update(changes)
        return LinearDynamicalSystem(**params)

    def _series(self, y: object) -> tuple[np.ndarray, bool]:
        """``y`` as float64 ``(T, D)`` (NaN kept as missing) and whether it was 1-D."""
        if isinstance(y, torch.Tensor):
            y = y.detach().cpu().numpy()
        try:
            a = np.array(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"expected y to be a 1-D or 2-D array of numbers, got {type(y).__name__}") from None
        univariate = a.ndim == 1
        if univariate:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != self.obs_dim:
            raise ValueError(
                f"expected y of shape (T, {self.obs_dim})"
                + (" or (T,)" if self.obs_dim == 1 else "")
                + f", got {np.shape(y)}"
            )
        if a.shape[0] == 0:
            raise ValueError("expected a series with at least one time step, got T=0")
        if np.isinf(a).any():
            raise ValueError("expected y to hold finite numbers or NaN (missing), got inf")
        return a, univariate

    # ---- inference -----------------------------------------------------------------------------------------------
    def filter(self, y: object) -> FilterResult:
        """Run the Kalman filter over ``y`` (``(T,)`` or ``(T, D)``, NaN = missing)."""
        Y, _ = self._series(y)  # (T, D)
        if self.state_dim == 1 and self.obs_dim == 1:
            return self._filter_scalar(Y[:, 0])
        return self._filter_general(Y)

    def _filter_general(self, Y: np.ndarray, steady_tol: float = 1e-13) -> FilterResult:
        """The filter for any S, D. Once the predicted covariance stops changing (relative change below
        ``steady_tol``) over fully observed steps, the gain, covariances and log-determinant are frozen and only
        the means run (the steady-state filter, as statsmodels does); a missing value ends the steady state.
        ``steady_tol=0`` never freezes."""
        T, S = Y.shape[0], self.state_dim
        A, C, d, Q, R = self.transition, self.observation, self.offset, self.state_cov, self.obs_cov
        I_S = np.eye(S)
        seen_all = ~np.isnan(Y)  # (T, D)
        n_seen = seen_all.sum(axis=1)  # (T,)
        D = Y.shape[1]
        mp, Pp = np.zeros((T, S)), np.zeros((T, S, S))
        mf, Pf = np.zeros((T, S)), np.zeros((T, S, S))
        m, P = self.init_mean, self.init_cov
        llf = 0.0
        steady: tuple[np.ndarray, np.ndarray, float] | None = None  # (K, S_t, constant part of -2 log-lik)
        last_pred: np.ndarray | None = None  # the previous fully observed step's predicted covariance
        for t in range(T):
            k = int(n_seen[t])
            if steady is not None and k < D:
                steady = None
            if t > 0:
                m = A @ m  # (S,)
                if steady is None:
                    P = _sym(A @ P @ A.T + Q)  # (S, S)
            mp[t] = m
            if steady is not None:  # frozen gain: only the means and the innovations' quadratic form
                K, St, const = steady
                e = Y[t] - C @ m - d  # (D,)
                m = m + K @ e
                llf -= 0.5 * (const + float(e @ np.linalg.solve(St, e)))
                Pp[t], Pf[t], mf[t] = Pp[t - 1], Pf[t - 1], m
                continue
            Pp[t] = P
            if k:
                if k == D:
                    Ct, Rt, e = C, R, Y[t] - C @ m - d  # (D, S), (D, D), (D,)
                else:  # observed rows only (Durbin & Koopman sec. 4.10)
                    seen = seen_all[t]
                    Ct, Rt = C[seen], R[np.ix_(seen, seen)]  # (k, S), (k, k)
                    e = Y[t, seen] - Ct @ m - d[seen]  # (k,)
                CP = Ct @ P  # (k, S)
                St = _sym(CP @ Ct.T + Rt)  # (k, k)
                try:
                    L = np.linalg.cholesky(St)
                except np.linalg.LinAlgError:
                    raise ValueError(f"innovation covariance at t={t} is not positive definite") from None
                sol = np.linalg.solve(St, np.column_stack([e, CP]))  # S^{-1} [e, C P]
                K = sol[:, 1:].T  # (S, k): P C^T S^{-1}
                m = m + K @ e
                IKC = I_S - K @ Ct
                const = k * _LOG_2PI + 2.0 * float(np.log(np.diag(L)).sum())
                llf -= 0.5 * (const + float(e @ sol[:, 0]))
                if k == D and last_pred is not None and steady_tol > 0:
                    change = float(np.abs(P - last_pred).max())
                    if change <= steady_tol * max(1.0, float(np.abs(P).max())):
                        steady = (K, St, const)
                last_pred = P if k == D else None
                P = _sym(IKC @ P @ IKC.T + K @ Rt @ K.T)  # Joseph form
            else:
                last_pred = None
            mf[t], Pf[t] = m, P
        return FilterResult(mp, Pp, mf, Pf, float(llf), int(n_seen.sum()))

    def _filter_scalar(self, y: np.ndarray) -> FilterResult:
        """The same recursion on Python floats for S = D = 1 (the common univariate case; ~50x fewer NumPy
        calls)."""
        T = y.shape[0]
        a, c, d = float(self.transition[0, 0]), float(self.observation[0, 0]), float(self.offset[0])
        q, r = float(self.state_cov[0, 0]), float(self.obs_cov[0, 0])
        m, P = float(self.init_mean[0]), float(self.init_cov[0, 0])
        mp, Pp, mf, Pf = (np.zeros(T) for _ in range(4))
        llf, n_obs = 0.0, 0
        for t, yt in enumerate(y.tolist()):
            if t > 0:
                m, P = a * m, a * a * P + q
            mp[t], Pp[t] = m, P
            if yt == yt:  # observed (not NaN)
                e = yt - c * m - d
                St = c * c * P + r
                if not St > 0.0:
                    raise ValueError(f"innovation covariance at t={t} is not positive definite")
                K = P * c / St
                m = m + K * e
                P = (1.0 - K * c) ** 2 * P + K * K * r  # Joseph form
                llf -= 0.5 * (_LOG_2PI + math.log(St) + e * e / St)
                n_obs += 1
            mf[t], Pf[t] = m, P
        return FilterResult(mp[:, None], Pp[:, None, None], mf[:, None], Pf[:, None, None], llf, n_obs)

    def log_likelihood(self, y: object) -> float:
        """Log-likelihood of the observed entries of ``y`` (prediction-error decomposition)."""
        return self.filter(y).log_likelihood

    def smooth(self, y: object) -> SmoothResult:
        """Rauch-Tung-Striebel smoother: moments of every state given the whole series."""
        f = self.filter(y)
        T, A = f.means.shape[0], self.transition
        if self.state_dim == 1:  # the same recursion on floats
            a = float(A[0, 0])
            mf, Pf, mp, Pp = (v.ravel().tolist() for v in (f.means, f.covs, f.pred_means, f.pred_covs))
            ms, Ps, lag = list(mf), list(Pf), [0.0] * max(T - 1, 0)
            for t in range(T - 2, -1, -1):
                J = Pf[t] * a / Pp[t + 1] if Pp[t + 1] > 0.0 else 0.0
                ms[t] = mf[t] + J * (ms[t + 1] - mp[t + 1])
                Ps[t] = Pf[t] + J * J * (Ps[t + 1] - Pp[t + 1])
                lag[t] = Ps[t + 1] * J
            shape = (T, 1, 1)
            return SmoothResult(np.array(ms)[:, None], np.array(Ps).reshape(shape), np.array(lag).reshape(-1, 1, 1), f)
        ms, Ps = f.means.copy(), f.covs.copy()
        lag = np.zeros((max(T - 1, 0), self.state_dim, self.state_dim))
        for t in range(T - 2, -1, -1):
            J = _solve_sym(f.pred_covs[t + 1], A @ f.covs[t]).T  # (S, S): P_t A^T P_{t+1|t}^{-1}
            ms[t] = f.means[t] + J @ (ms[t + 1] - f.pred_means[t + 1])
            Ps[t] = _sym(f.covs[t] + J @ (Ps[t + 1] - f.pred_covs[t + 1]) @ J.T)
            lag[t] = Ps[t + 1] @ J.T
        return SmoothResult(ms, Ps, lag, f)

    def smooth_impute(self, y: object) -> np.ndarray:
        """``y`` with every NaN replaced by the smoother's mean :math:`C\\hat\\mu_t + d` (observed values kept)."""
        Y, univariate = self._series(y)
        s = self.smooth(Y)
        fill = s.means @ self.observation.T + self.offset  # (T, D)
        out = np.where(np.isnan(Y), fill, Y)
        return out[:, 0] if univariate else out

    def forecast(self, y: object, steps: int, level: float = 0.95) -> Forecast:
        """Forecast ``steps`` observations after the end of ``y`` (filtered to its last step first).

        Returns:
            :class:`Forecast` (mean, std, lower, upper) of shape ``(h,)`` for a 1-D ``y``, else ``(h, D)``.
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"expected steps to be an int >= 1, got {steps!r}")
        level = check_level(level)
        Y, univariate = self._series(y)
        f = self.filter(Y)
        A, C, Q, R = self.transition, self.observation, self.state_cov, self.obs_cov
        m, P = f.means[-1], f.covs[-1]
        mean, std = np.zeros((steps, self.obs_dim)), np.zeros((steps, self.obs_dim))
        for h in range(steps):
            m, P = A @ m, _sym(A @ P @ A.T + Q)
            mean[h] = C @ m + self.offset
            std[h] = np.sqrt(np.clip(np.diag(C @ P @ C.T + R), 0.0, None))
        if univariate:
            mean, std = mean[:, 0], std[:, 0]
        return Forecast.gaussian(mean, std, level)

    def sample(self, steps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw states ``(T, S)`` and observations ``(T, D)`` from the model (seeded)."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"expected steps to be an int >= 1, got {steps!r}")
        rng = np.random.default_rng(seed)
        S = self.state_dim
        x = np.zeros((steps, S))
        x[0] = rng.multivariate_normal(self.init_mean, self.init_cov)
        w = rng.multivariate_normal(np.zeros(S), self.state_cov, size=steps)
        for t in range(1, steps):
            x[t] = self.transition @ x[t - 1] + w[t]
        v = rng.multivariate_normal(np.zeros(self.obs_dim), self.obs_cov, size=steps)
        return x, x @ self.observation.T + self.offset + v

    # ---- learning ------------------------------------------------------------------------------------------------
    def em_step(self, y: object, learn: Iterable[str] = LEARNABLE) -> tuple[LinearDynamicalSystem, float]:
        """One EM iteration: returns the updated model and the log-likelihood of *this* model on ``y``."""
        learn = _check_learn(learn)
        Y, _ = self._series(y)
        seen = ~np.isnan(Y)
        s = self.smooth(Y)
        T = Y.shape[0]
        Exx = s.covs + np.einsum("ti,tj->tij", s.means, s.means)  # (T, S, S): E[x_t x_t^T]
        changes: dict[str, np.ndarray] = {}
        if "init" in learn:
            changes["init_mean"], changes["init_cov"] = s.means[0], _sym(s.covs[0])
        if T > 1 and {"transition", "state_cov"} & learn:
            S10 = (s.lag_covs + np.einsum("ti,tj->tij", s.means[1:], s.means[:-1])).sum(0)  # sum E[x_t x_{t-1}^T]
            S00, S11 = Exx[:-1].sum(0), Exx[1:].sum(0)
            A = _solve_sym(S00, S10.T).T if "transition" in learn else self.transition  # S10 S00^{-1}
            if "transition" in learn:
                changes["transition"] = A
            if "state_cov" in learn:
                Qn = (S11 - A @ S10.T - S10 @ A.T + A @ S00 @ A.T) / (T - 1)
                changes["state_cov"] = _sym(Qn)
        if {"observation", "offset", "obs_cov"} & learn and seen.any():
            Syx, Syy, G, n = self._observation_moments(Y, seen, s.means, Exx)
            S = self.state_dim
            Cd = np.concatenate([self.observation, self.offset[:, None]], axis=1)  # (D, S + 1): [C d]
            fit_c, fit_d = "observation" in learn, "offset" in learn
            if fit_c and fit_d:
                Cd = _solve_sym(G, Syx.T).T
            elif fit_c:  # d fixed: regress y - d on x
                Cd[:, :S] = _solve_sym(G[:S, :S], (Syx[:, :S] - np.outer(self.offset, G[S, :S])).T).T
            elif fit_d:  # C fixed
                Cd[:, S] = (Syx[:, S] - self.observation @ G[:S, S]) / n
            changes["observation"], changes["offset"] = Cd[:, :S], Cd[:, S]
            if "obs_cov" in learn:
                Rn = (Syy - Cd @ Syx.T - Syx @ Cd.T + Cd @ G @ Cd.T) / n
                changes["obs_cov"] = _sym(Rn)
        try:
            new = self._replace(**changes)
        except ValueError as err:
            raise ValueError(f"EM produced an invalid model ({err}); the data may be degenerate") from None
        return new, s.filtered.log_likelihood

    def _observation_moments(
        self, Y: np.ndarray, seen: np.ndarray, means: np.ndarray, Exx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Sufficient statistics of the observation M-step over the n steps with any observed entry, with the
        augmented state x~ = [x; 1]: sum E[y x~^T] (D, S+1), sum E[y y^T] (D, D), sum E[x~ x~^T] (S+1, S+1).

        A partly observed step fills its missing entries y2 by their conditional law given x_t and the observed
        y1, y2 | x, y1 ~ N(G x + h, R_22 - R_21 R_11^{-1} R_12) with G = C_2 - R_21 R_11^{-1} C_1 and
        h = d_2 + R_21 R_11^{-1}(y1 - d_1) (Shumway & Stoffer, "Time Series Analysis and Its Applications",
        sec. 6.4, missing-data modifications); fully missing steps drop out of these sums."""
        S, D = self.state_dim, self.obs_dim
        C, d, R = self.observation, self.offset, self.obs_cov
        full, partial = seen.all(axis=1), seen.any(axis=1) & ~seen.all(axis=1)
        rows = full | partial
        n = int(rows.sum())
        G = np.zeros((S + 1, S + 1))
        G[:S, :S], G[:S, S], G[S, :S], G[S, S] = Exx[rows].sum(0), means[rows].sum(0), means[rows].sum(0), n
        Yf, mf = Y[full], means[full]  # (n_full, D), (n_full, S)
        Syx = np.concatenate([Yf.T @ mf, Yf.sum(0)[:, None]], axis=1)  # (D, S + 1)
        Syy = Yf.T @ Yf  # (D, D)
        for t in np.flatnonzero(partial):
            o, u = seen[t], ~seen[t]
            B = np.linalg.solve(R[np.ix_(o, o)], R[np.ix_(o, u)]).T  # (u, o): R_21 R_11^{-1}
            y1 = Y[t, o]
            Gh = np.concatenate([C[u] - B @ C[o], (d[u] + B @ (y1 - d[o]))[:, None]], axis=1)  # (u, S + 1)
            X = np.zeros((S + 1, S + 1))  # E[x~ x~^T] at t
            X[:S, :S], X[:S, S], X[S, :S], X[S, S] = Exx[t], means[t], means[t], 1.0
            mx = np.append(means[t], 1.0)  # E[x~]
            Ey2 = Gh @ mx
            Ey = np.zeros(D)
            Ey[o], Ey[u] = y1, Ey2
            Eyx = np.zeros((D, S + 1))
            Eyx[o], Eyx[u] = np.outer(y1, mx), Gh @ X
            Eyy = np.zeros((D, D))
            Eyy[np.ix_(o, o)] = np.outer(y1, y1)
            Eyy[np.ix_(o, u)] = np.outer(y1, Ey2)
            Eyy[np.ix_(u, o)] = np.outer(Ey2, y1)
            Eyy[np.ix_(u, u)] = Gh @ X @ Gh.T + R[np.ix_(u, u)] - B @ R[np.ix_(o, u)]
            Syx += Eyx
            Syy += Eyy
        return Syx, Syy, G, n

    def em(self, y: object, n_iter: int = 100, tol: float = 1e-8, learn: Iterable[str] = LEARNABLE) -> EMResult:
        """Run EM from this model for at most ``n_iter`` iterations.

        Args:
            y: ``(T,)`` or ``(T, D)``; NaN = missing (whole steps or single entries).
            n_iter: maximum iterations.
            tol: stop when the log-likelihood improves by less than ``tol * (1 + |llf|)``.
            learn: parameter groups to update, a subset of :data:`LEARNABLE`.

        Returns:
            :class:`EMResult` with the final model and the log-likelihood of every iterate, non-decreasing.
        """
        if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
            raise ValueError(f"expected n_iter to be an int >= 0, got {n_iter!r}")
        if not isinstance(tol, (int, float)) or tol < 0:
            raise ValueError(f"expected tol >= 0, got {tol!r}")
        learn = _check_learn(learn)
        model, lls, converged = self, [], False
        for _ in range(n_iter):
            new, ll = model.em_step(y, learn)
            lls.append(ll)
            if len(lls) > 1 and lls[-1] - lls[-2] < tol * (1.0 + abs(lls[-1])):
                converged = True
                break
            model = new
        if not converged:
            lls.append(model.log_likelihood(y))
        return EMResult(model=model, log_likelihoods=lls, converged=converged)

    @classmethod
    def fit(
        cls, y: object, state_dim: int = 1, n_iter: int = 100, tol: float = 1e-8, seed: int = 0
    ) -> LinearDynamicalSystem:
        """Initialise from the data and run EM.

        The start is a cheap subspace estimate: the states are the top S principal components of the delay
        embedding ``[y_t, y_{t-1}, ..., y_{t-L+1}]`` with L = ceil(S / D) (gaps at the column mean), so that a
        univariate series gets an S-dimensional state that can oscillate; C, A, Q and R then come from least
        squares on those states (A scaled to spectral radius <= 0.99).

        Args:
            y: ``(T,)`` or ``(T, D)``, NaN = missing.
            state_dim: S >= 1.
            n_iter, tol: as :meth:`em`.
            seed: unused by the deterministic start; kept so that every model family takes a seed.
        """
        if isinstance(state_dim, bool) or not isinstance(state_dim, (int, np.integer)) or state_dim < 1:
            raise ValueError(f"expected state_dim to be an int >= 1, got {state_dim!r}")
        Y = np.array(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValueError(f"expected y of shape (T,) or (T, D), got {Y.shape}")
        if np.isinf(Y).any():
            raise ValueError("expected y to hold finite numbers or NaN (missing), got inf")
        D, S = Y.shape[1], int(state_dim)
        L = -(-S // D)  # lags in the delay embedding
        if Y.shape[0] < L + 3:
            raise ValueError(f"expected a series of T >= {L + 3} steps for state_dim={S}, got shape {Y.shape}")
        if np.isnan(Y).all(axis=0).any():
            raise ValueError("a column of y is entirely missing (NaN); expected some observed values")
        mean = np.nanmean(Y, axis=0)
        Yc = np.where(np.isnan(Y), 0.0, Y - mean)  # (T, D), gaps at the mean
        scale = float(Yc.std()) or 1.0
        T = Yc.shape[0]
        H = np.concatenate([Yc[L - 1 - j : T - j] for j in range(L)], axis=1)  # (T - L + 1, D L)
        _, sv, Vt = np.linalg.svd(H, full_matrices=False)
        X = H @ Vt[:S].T  # (T - L + 1, S) states
        if X.shape[1] < S:  # fewer embedding directions than states (only when T is tiny)
            X = np.concatenate([X, np.zeros((X.shape[0], S - X.shape[1]))], axis=1)
        X = X + 1e-6 * scale * np.eye(X.shape[0], S)  # keeps the regressions below well posed
        Yt = Yc[L - 1 :]
        C = np.linalg.lstsq(X, Yt, rcond=None)[0].T  # (D, S)
        A = np.linalg.lstsq(X[:-1], X[1:], rcond=None)[0].T  # (S, S)
        radius = float(np.abs(np.linalg.eigvals(A)).max())
        if radius > 0.99:
            A = A * (0.99 / radius)
        W = X[1:] - X[:-1] @ A.T
        Q = np.cov(W.T, ddof=0).reshape(S, S) + 1e-3 * scale**2 * np.eye(S)
        V = Yt - X @ C.T
        R = np.diag(np.maximum(V.var(axis=0), 0.05 * Yc.var(axis=0)) + 1e-6 * scale**2)
        P0 = np.cov(X.T, ddof=0).reshape(S, S) + Q
        init = cls(A, C, Q, R, offset=mean, init_mean=X[0], init_cov=P0)
        return init.em(y, n_iter=n_iter, tol=tol).model

    # ---- persistence ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every parameter as a float64 tensor (safetensors-ready), keyed by its argument name."""
        return {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in _PARAMS}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> LinearDynamicalSystem:
        """Rebuild a model saved by :meth:`state_dict`."""
        missing = set(_PARAMS) - set(state)
        if missing:
            raise ValueError(f"LDS state dict lacks {sorted(missing)}; expected LinearDynamicalSystem.state_dict()")
        return cls(**{name: state[name].double().numpy() for name in _PARAMS})

    def __repr__(self) -> str:
        return f"LinearDynamicalSystem(state_dim={self.state_dim}, obs_dim={self.obs_dim})"


def _check_learn(learn: Iterable[str]) -> frozenset[str]:
    if isinstance(learn, str):
        learn = (learn,)
    names = frozenset(learn)
    unknown = names - set(LEARNABLE)
    if unknown:
        raise ValueError(f"expected learn to name parameter groups among {list(LEARNABLE)}, got {sorted(unknown)}")
    return names


LDS = LinearDynamicalSystem
