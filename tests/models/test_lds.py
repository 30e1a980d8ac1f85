"""Linear dynamical system: the Kalman filter against closed forms, brute-force Gaussian conditioning and
statsmodels; the RTS smoother beats the filter; EM never decreases the likelihood and recovers a scalar system;
forecasts by hand; missing values; persistence; every error path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unrolled.models.lds import LinearDynamicalSystem as LDS

A2 = np.array([[0.8, 0.1], [-0.2, 0.7]])
C2 = np.array([[1.0, 0.5], [0.3, -1.0]])
Q2 = np.array([[0.5, 0.1], [0.1, 0.3]])
R2 = np.array([[0.4, 0.05], [0.05, 0.6]])


def model2() -> LDS:
    return LDS(A2, C2, Q2, R2, offset=[0.2, -0.1], init_mean=[0.1, 0.2], init_cov=2.0 * np.eye(2))


def random_walk(Q: float, R: float, m0: float = 0.3, P0: float = 2.0) -> LDS:
    return LDS([[1.0]], [[1.0]], state_cov=[[Q]], obs_cov=[[R]], init_mean=[m0], init_cov=[[P0]])


def test_constant_level_filter_is_the_precision_weighted_mean():
    # Q = 0: x is a constant with prior N(m0, P0) seen in noise R; the posterior after t values is closed form
    m0, P0, R = 0.3, 2.0, 0.5
    y = np.array([1.0, -0.4, 2.2, 0.7, 1.1])
    f = random_walk(0.0, R, m0, P0).filter(y)
    for t in range(1, 6):
        prec = 1 / P0 + t / R
        assert f.covs[t - 1, 0, 0] == pytest.approx(1 / prec, rel=1e-12)
        assert f.means[t - 1, 0] == pytest.approx((m0 / P0 + y[:t].sum() / R) / prec, rel=1e-12)


def test_random_walk_reaches_the_riccati_steady_state():
    Q, R = 0.3, 0.8
    f = random_walk(Q, R).filter(np.zeros(200))
    p_pred = (Q + math.sqrt(Q * Q + 4 * Q * R)) / 2  # root of P^2 - Q P - Q R = 0
    assert f.pred_covs[-1, 0, 0] == pytest.approx(p_pred, rel=1e-10)
    assert f.covs[-1, 0, 0] == pytest.approx(p_pred * R / (p_pred + R), rel=1e-10)


def test_random_walk_first_two_steps_by_hand():
    Q, R, m0, P0 = 0.3, 0.8, 0.3, 2.0
    y = np.array([1.0, 2.0])
    f = random_walk(Q, R, m0, P0).filter(y)
    k1 = P0 / (P0 + R)
    m1, p1 = m0 + k1 * (1.0 - m0), (1 - k1) * P0
    k2 = (p1 + Q) / (p1 + Q + R)
    m2 = m1 + k2 * (2.0 - m1)
    ll = -0.5 * (math.log(2 * math.pi * (P0 + R)) + (1.0 - m0) ** 2 / (P0 + R))
    ll += -0.5 * (math.log(2 * math.pi * (p1 + Q + R)) + (2.0 - m1) ** 2 / (p1 + Q + R))
    np.testing.assert_allclose(f.means[:, 0], [m1, m2], rtol=1e-12)
    assert f.log_likelihood == pytest.approx(ll, rel=1e-12)


def joint_gaussian(lds: LDS, T: int) -> tuple[np.ndarray, ...]:
    """Brute force: mean and covariance of the stacked states and observations, and the stacked C."""
    S = lds.state_dim
    A = lds.transition
    mx = np.zeros(T * S)
    Sx = np.zeros((T * S, T * S))
    m, V = lds.init_mean, lds.init_cov
    covs = []
    for t in range(T):
        if t:
            m, V = A @ m, A @ V @ A.T + lds.state_cov
        mx[t * S : (t + 1) * S] = m
        covs.append(V)
    for s in range(T):
        for t in range(s, T):
            block = np.linalg.matrix_power(A, t - s) @ covs[s]  # cov(x_t, x_s)
            Sx[t * S : (t + 1) * S, s * S : (s + 1) * S] = block
            Sx[s * S : (s + 1) * S, t * S : (t + 1) * S] = block.T
    Cb = np.kron(np.eye(T), lds.observation)
    my = Cb @ mx + np.tile(lds.offset, T)
    Sy = Cb @ Sx @ Cb.T + np.kron(np.eye(T), lds.obs_cov)
    return mx, Sx, my, Sy, Cb


def test_log_likelihood_and_smoother_equal_brute_force_conditioning_with_gaps():
    lds = model2()
    _, y = lds.sample(6, seed=4)
    y[1, 0] = np.nan  # a partly observed step
    y[3] = np.nan  # a missing step
    mx, Sx, my, Sy, Cb = joint_gaussian(lds, 6)
    seen = ~np.isnan(y.ravel())
    yo, myo, Syo = y.ravel()[seen], my[seen], Sy[np.ix_(seen, seen)]
    diff = yo - myo
    ll = -0.5 * (seen.sum() * math.log(2 * math.pi) + np.linalg.slogdet(Syo)[1] + diff @ np.linalg.solve(Syo, diff))
    s = lds.smooth(y)
    assert s.filtered.log_likelihood == pytest.approx(ll, rel=1e-10)
    Sxy = (Sx @ Cb.T)[:, seen]
    post_mean = mx + Sxy @ np.linalg.solve(Syo, diff)
    post_cov = Sx - Sxy @ np.linalg.solve(Syo, Sxy.T)
    np.testing.assert_allclose(s.means.ravel(), post_mean, atol=1e-10)
    for t in range(6):
        np.testing.assert_allclose(s.covs[t], post_cov[2 * t : 2 * t + 2, 2 * t : 2 * t + 2], atol=1e-10)
    for t in range(5):  # lag-one covariance cov(x_{t+1}, x_t | y)
        np.testing.assert_allclose(s.lag_covs[t], post_cov[2 * t + 2 : 2 * t + 4, 2 * t : 2 * t + 2], atol=1e-10)
    # the filter's last step is the smoother's last step
    np.testing.assert_allclose(s.filtered.means[-1], s.means[-1], atol=1e-12)


def test_log_likelihood_equals_statsmodels_state_space_model():
    mlemodel = pytest.importorskip("statsmodels.tsa.statespace.mlemodel")
    lds = model2()
    _, y = lds.sample(120, seed=1)
    y[5, 0], y[10] = np.nan, np.nan
    mod = mlemodel.MLEModel(y, k_states=2)
    mod["design"], mod["obs_cov"], mod["obs_intercept"] = C2, R2, lds.offset
    mod["transition"], mod["selection"], mod["state_cov"] = A2, np.eye(2), Q2
    mod.ssm.initialize_known(lds.init_mean, lds.init_cov)
    ref = mod.ssm.smooth()
    s = lds.smooth(y)
    assert s.filtered.log_likelihood == pytest.approx(ref.llf, rel=1e-9)
    np.testing.assert_allclose(s.filtered.means, ref.filtered_state.T, atol=1e-8)
    np.testing.assert_allclose(s.means, ref.smoothed_state.T, atol=1e-8)


@pytest.mark.filterwarnings("ignore")
def test_log_likelihood_equals_statsmodels_local_level():
    structural = pytest.importorskip("statsmodels.tsa.statespace.structural")
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=80)) + rng.normal(size=80)
    y[7] = np.nan
    mod = structural.UnobservedComponents(y, "llevel")
    mod.ssm.initialize_known(np.array([0.3]), np.array([[2.0]]))
    mod.loglikelihood_burn = 0
    ref = mod.loglike([0.7, 0.4])  # sigma2.irregular (R), sigma2.level (Q)
    assert random_walk(0.4, 0.7).log_likelihood(y) == pytest.approx(ref, rel=1e-8)


def test_scalar_fast_path_equals_the_general_path():
    lds = LDS([[0.9]], [[1.5]], state_cov=[[0.3]], obs_cov=[[0.5]], offset=[1.0], init_mean=[0.2], init_cov=[[3.0]])
    _, y = lds.sample(60, seed=5)
    y[[4, 30, 31]] = np.nan
    fast, general = lds.filter(y), lds._filter_general(y)
    assert fast.log_likelihood == pytest.approx(general.log_likelihood, rel=1e-13)
    for name in ("pred_means", "pred_covs", "means", "covs"):
        np.testing.assert_allclose(getattr(fast, name), getattr(general, name), rtol=1e-12, atol=1e-15)
    assert fast.n_observed == general.n_observed == 57


def test_steady_state_filter_equals_the_full_recursion():
    lds = model2()
    _, y = lds.sample(300, seed=7)
    y[100, 1], y[200] = np.nan, np.nan  # gaps end the steady state, which then resumes
    fast, full = lds._filter_general(y), lds._filter_general(y, steady_tol=0.0)
    assert fast.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-12)
    for name in ("pred_means", "pred_covs", "means", "covs"):
        np.testing.assert_allclose(getattr(fast, name), getattr(full, name), rtol=1e-10, atol=1e-12)


def test_smoother_is_closer_to_the_true_states_than_the_filter():
    lds = LDS([[0.95]], [[1.0]], state_cov=[[0.2]], obs_cov=[[1.0]])
    x, y = lds.sample(400, seed=2)
    s = lds.smooth(y)
    err_f = np.mean((s.filtered.means - x) ** 2)
    err_s = np.mean((s.means - x) ** 2)
    assert err_s < 0.85 * err_f
    assert (s.covs[:-1, 0, 0] <= s.filtered.covs[:-1, 0, 0] + 1e-12).all()  # smoothing never adds variance


def test_em_never_decreases_the_likelihood_and_recovers_a_scalar_system():
    true = LDS([[0.9]], [[1.0]], state_cov=[[0.3]], obs_cov=[[0.5]], offset=[1.0])
    _, y = true.sample(1500, seed=3)
    y[100:110] = np.nan
    start = LDS([[0.3]], [[2.0]], state_cov=[[1.0]], obs_cov=[[2.0]])
    result = start.em(y, n_iter=150, tol=1e-10)  # the scalar path: ~20 microseconds per step
    lls = np.array(result.log_likelihoods)
    assert (np.diff(lls) >= -1e-8 * np.abs(lls[1:])).all()
    assert lls[-1] > lls[0] + 100
    fitted = result.model
    assert fitted.log_likelihood(y) == pytest.approx(lls[-1], rel=1e-12)
    # identifiable up to the scale of the state: A, C^2 Q, R and d
    assert fitted.transition[0, 0] == pytest.approx(0.9, abs=0.05)
    assert fitted.observation[0, 0] ** 2 * fitted.state_cov[0, 0] == pytest.approx(0.3, rel=0.35)
    assert fitted.obs_cov[0, 0] == pytest.approx(0.5, rel=0.25)
    assert fitted.offset[0] == pytest.approx(1.0, abs=0.35)


@pytest.mark.parametrize("learn", [("transition",), ("state_cov", "obs_cov"), ("observation", "init"), ("offset",)])
def test_em_with_some_parameters_fixed_is_monotone_and_keeps_the_rest(learn):
    lds = model2()
    _, y = lds.sample(80, seed=6)
    start = lds._replace(transition=0.5 * np.eye(2), obs_cov=np.eye(2), offset=np.zeros(2))
    result = start.em(y, n_iter=5, tol=0.0, learn=learn)
    assert (np.diff(result.log_likelihoods) >= -1e-8).all()
    assert result.log_likelihoods[-1] > result.log_likelihoods[0]
    names = {"transition": ["transition"], "state_cov": ["state_cov"], "observation": ["observation"]}
    names |= {"obs_cov": ["obs_cov"], "offset": ["offset"], "init": ["init_mean", "init_cov"]}
    for group, attrs in names.items():
        for attr in attrs:
            same = np.array_equal(getattr(result.model, attr), getattr(start, attr))
            assert same == (group not in learn), attr


def test_em_with_partly_observed_steps_is_monotone():
    # missing single entries: their conditional moments enter the M-step (Shumway & Stoffer sec. 6.4)
    true = model2()
    _, y = true.sample(120, seed=11)
    rng = np.random.default_rng(0)
    y[rng.random(y.shape) < 0.15] = np.nan
    y[40:45] = np.nan
    assert (np.isnan(y).any(axis=1) & ~np.isnan(y).all(axis=1)).sum() > 20
    start = true._replace(transition=0.3 * np.eye(2), obs_cov=2.0 * np.eye(2), offset=np.zeros(2))
    lls = np.array(start.em(y, n_iter=10, tol=0.0).log_likelihoods)
    assert (np.diff(lls) >= -1e-9 * np.abs(lls[1:])).all()
    assert lls[-1] > lls[0] + 10


def test_observation_statistics_with_partly_missing_steps_equal_brute_force_conditioning():
    # E[y x~^T], E[y y^T], E[x~ x~^T] summed over steps with any observation, from the joint Gaussian of all
    # states and observations conditioned on the observed entries
    lds = model2()
    T = 6
    _, y = lds.sample(T, seed=4)
    y[1, 0], y[4, 1], y[3] = np.nan, np.nan, np.nan
    mx, Sx, my, Sy, Cb = joint_gaussian(lds, T)
    mz = np.r_[mx, my]
    Sz = np.block([[Sx, Sx @ Cb.T], [Cb @ Sx, Sy]])
    obs = np.r_[np.zeros(T * 2, bool), ~np.isnan(y.ravel())]
    gain = np.linalg.solve(Sz[np.ix_(obs, obs)], Sz[obs]).T
    post_mean = mz + gain @ (y.ravel()[~np.isnan(y.ravel())] - mz[obs])
    post_cov = Sz - gain @ Sz[obs]
    second = post_cov + np.outer(post_mean, post_mean)  # E[z z^T]
    rows = [t for t in range(T) if not np.isnan(y[t]).all()]
    xs = [np.r_[2 * t, 2 * t + 1] for t in rows]
    ys = [2 * T + np.r_[2 * t, 2 * t + 1] for t in rows]
    Syx = sum(np.c_[second[np.ix_(yi, xi)], post_mean[yi]] for xi, yi in zip(xs, ys))
    Syy = sum(second[np.ix_(yi, yi)] for yi in ys)
    s = lds.smooth(y)
    Exx = s.covs + np.einsum("ti,tj->tij", s.means, s.means)
    got_yx, got_yy, G, n = lds._observation_moments(y, ~np.isnan(y), s.means, Exx)
    assert n == len(rows) == 5
    np.testing.assert_allclose(got_yx, Syx, atol=1e-10)
    np.testing.assert_allclose(got_yy, Syy, atol=1e-10)
    np.testing.assert_allclose(G[:2, :2], sum(second[np.ix_(xi, xi)] for xi in xs), atol=1e-10)


def test_fit_from_data_improves_on_its_start_and_forecasts():
    true = model2()
    _, y = true.sample(150, seed=8)
    fitted = LDS.fit(y, state_dim=2, n_iter=15)
    assert fitted.log_likelihood(y) > LDS.fit(y, state_dim=2, n_iter=0).log_likelihood(y)
    assert fitted.log_likelihood(y) > true.log_likelihood(y) - 15  # close to the truth's likelihood
    assert fitted.forecast(y, 5).mean.shape == (5, 2)


def test_fit_gives_a_univariate_series_an_oscillating_state():
    theta = 2 * math.pi / 10
    rot = 0.95 * np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    true = LDS(rot, [[1.0, 0.0]], state_cov=0.2 * np.eye(2), obs_cov=[[0.1]])
    _, y = true.sample(150, seed=1)
    one = LDS.fit(y[:, 0], state_dim=1, n_iter=10)
    two = LDS.fit(y[:, 0], state_dim=2, n_iter=10)
    assert two.log_likelihood(y) > one.log_likelihood(y) + 20
    assert np.abs(np.linalg.eigvals(two.transition)).max() == pytest.approx(0.95, abs=0.1)
    assert two.forecast(y[:, 0], 3).mean.shape == (3,)


def test_forecast_by_hand_scalar():
    lds = LDS([[0.5]], [[2.0]], state_cov=[[1.0]], obs_cov=[[0.25]], offset=[1.0], init_mean=[0.0], init_cov=[[1e-300]])
    y = np.array([1.0])  # observed at the (almost known) state 0
    f = lds.forecast(y, 3, level=0.95)
    m, P = lds.filter(y).means[-1, 0], lds.filter(y).covs[-1, 0, 0]
    means, variances = [], []
    for _ in range(3):
        m, P = 0.5 * m, 0.25 * P + 1.0
        means.append(2 * m + 1.0)
        variances.append(4 * P + 0.25)
    np.testing.assert_allclose(f.mean, means, rtol=1e-12)
    np.testing.assert_allclose(f.std, np.sqrt(variances), rtol=1e-12)
    np.testing.assert_allclose(f.upper - f.mean, 1.959963984540054 * np.sqrt(variances), rtol=1e-12)


def test_smooth_impute_fills_only_gaps_with_the_smoothed_observation_mean():
    lds = model2()
    _, y = lds.sample(40, seed=2)
    y[[3, 4, 20]] = np.nan
    y[30, 1] = np.nan
    filled = lds.smooth_impute(y)
    seen = ~np.isnan(y)
    np.testing.assert_array_equal(filled[seen], y[seen])
    expected = lds.smooth(y).means @ C2.T + lds.offset
    np.testing.assert_allclose(filled[~seen], expected[~seen], rtol=1e-12)
    assert not np.isnan(filled).any()
    one = random_walk(0.1, 0.5).smooth_impute(np.array([1.0, np.nan, 1.0]))
    assert one.shape == (3,) and one[1] == pytest.approx(1.0, abs=0.2)


def test_smooth_impute_beats_linear_interpolation_under_the_true_model():
    from unrolled.data.gaps import linear_interpolate

    lds = LDS([[0.9]], [[1.0]], state_cov=[[0.3]], obs_cov=[[1.0]])
    _, y = lds.sample(1200, seed=12)
    gappy = y[:, 0].copy()
    holes = np.concatenate([np.arange(s, s + 4) for s in range(20, 1180, 30)])
    gappy[holes] = np.nan
    err_kalman = np.mean((lds.smooth_impute(gappy)[holes] - y[holes, 0]) ** 2)
    err_linear = np.mean((linear_interpolate(gappy)[holes] - y[holes, 0]) ** 2)
    assert err_kalman < 0.85 * err_linear


def test_state_dict_round_trip_and_torch_input():
    lds = model2()
    _, y = lds.sample(30, seed=0)
    state = lds.state_dict()
    assert all(v.dtype == torch.float64 for v in state.values())
    safetensors = pytest.importorskip("safetensors.torch")
    back = LDS.from_state_dict(safetensors.load(safetensors.save(state)))
    assert back.log_likelihood(torch.tensor(y)) == lds.log_likelihood(y)


def test_sample_is_seeded():
    a, b = model2().sample(20, seed=1), model2().sample(20, seed=1)
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: LDS([[1.0]], [[1.0, 0.0]], [[1.0]], [[1.0]]), r"transition of shape \(2, 2\)"),
        (lambda: LDS([[1.0]], [1.0], [[1.0]], [[1.0]]), r"observation \(C\) of shape"),
        (lambda: LDS([[1.0]], [[1.0]], [[-1.0]], [[1.0]]), "state_cov to be positive semi-definite"),
        (lambda: LDS([[1.0]], [[1.0]], [[1.0]], [[0.0]]), "obs_cov to be positive definite"),
        (lambda: LDS(np.eye(2), np.eye(2), [[1.0, 0.5], [0.0, 1.0]], np.eye(2)), "state_cov to be symmetric"),
        (lambda: LDS([[np.nan]], [[1.0]], [[1.0]], [[1.0]]), "transition to hold finite"),
        (lambda: LDS([[1.0]], [[1.0]], [[1.0]], [[1.0]], init_mean=[0.0, 0.0]), "init_mean of shape"),
        (lambda: model2().filter(np.zeros((5, 3))), r"y of shape \(T, 2\)"),
        (lambda: model2().filter(np.zeros((0, 2))), "at least one time step"),
        (lambda: model2().filter(np.full((5, 2), np.inf)), "got inf"),
        (lambda: model2().filter("abc"), "array of numbers"),
        (lambda: model2().forecast(np.zeros((5, 2)), 0), "steps to be an int >= 1"),
        (lambda: model2().forecast(np.zeros((5, 2)), 2, level=0.0), "level"),
        (lambda: model2().em(np.zeros((5, 2)), learn=("transition", "bias")), "parameter groups"),
        (lambda: model2().em(np.zeros((5, 2)), n_iter=-1), "n_iter"),
        (lambda: LDS.fit(np.zeros(10), state_dim=0), "state_dim"),
        (lambda: LDS.fit(np.c_[np.zeros(10), np.full(10, np.nan)]), "entirely missing"),
        (lambda: LDS.fit(np.zeros(3)), r"T >= 4 steps for state_dim=1, got shape \(3, 1\)"),
        (lambda: LDS.from_state_dict({}), "lacks"),
    ],
)
def test_errors_are_one_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
