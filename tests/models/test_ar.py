"""AR(p): recovers known coefficients, equals statsmodels (AutoReg, yule_walker, ar_select_order), hand-computed
forecasts and psi-weight intervals, persistence, every error path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unrolled.models.ar import ARModel, select_order

TRUE = ARModel(intercept=0.5, coef=[0.6, -0.2, 0.1], sigma2=1.3)


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return TRUE.simulate(400, seed=1)


def test_recovers_known_coefficients_from_simulated_data():
    y = TRUE.simulate(20000, seed=3)
    for method in ("ols", "yule_walker"):
        m = ARModel.fit(y, 3, method=method)
        np.testing.assert_allclose(m.coef, [0.6, -0.2, 0.1], atol=0.03)
        assert abs(m.sigma2 - 1.3) < 0.05
        assert abs(m.intercept - 0.5) < 0.05


def test_ols_equals_statsmodels_autoreg(series):
    sm = pytest.importorskip("statsmodels.tsa.ar_model")
    ref = sm.AutoReg(series, 3, trend="c").fit()
    m = ARModel.fit(series, 3)
    np.testing.assert_allclose(np.r_[m.intercept, m.coef], ref.params, atol=1e-6)
    assert m.sigma2 == pytest.approx(ref.sigma2, rel=1e-9)
    assert m.log_likelihood() == pytest.approx(ref.llf, rel=1e-10)
    assert m.aic == pytest.approx(ref.aic, rel=1e-10) and m.bic == pytest.approx(ref.bic, rel=1e-10)
    assert m.criterion("hqic") == pytest.approx(ref.hqic, rel=1e-10)
    np.testing.assert_allclose(m.predict(series), ref.fittedvalues, atol=1e-9)
    # forecasts and 90% intervals equal statsmodels' get_prediction (psi weights, parameter uncertainty ignored)
    f = m.forecast(6, level=0.9)
    pred = ref.get_prediction(start=len(series), end=len(series) + 5)
    np.testing.assert_allclose(f.mean, pred.predicted_mean, atol=1e-9)
    np.testing.assert_allclose(np.c_[f.lower, f.upper], pred.conf_int(alpha=0.1), atol=1e-9)


@pytest.mark.filterwarnings("ignore:yule_walker currently returns:FutureWarning")
@pytest.mark.parametrize("yw_method", ["mle", "adjusted"])
def test_yule_walker_equals_statsmodels(series, yw_method):
    lm = pytest.importorskip("statsmodels.regression.linear_model")
    rho, sigma = lm.yule_walker(series, 3, method=yw_method, demean=True)
    m = ARModel.fit(series, 3, method="yule_walker", yw_method=yw_method)
    np.testing.assert_allclose(m.coef, rho, atol=1e-10)
    assert m.sigma2 == pytest.approx(sigma**2, rel=1e-10)
    assert m.intercept == pytest.approx(series.mean() * (1 - rho.sum()), rel=1e-10)


@pytest.mark.parametrize("criterion", ["aic", "bic", "hqic"])
def test_order_selection_equals_statsmodels_ar_select_order(criterion):
    sm = pytest.importorskip("statsmodels.tsa.ar_model")
    y = ARModel(0.0, [0.5, 0.0, 0.0, -0.3], 1.0).simulate(300, seed=5)
    ours = select_order(y, 8, criterion)
    ref = sm.ar_select_order(y, 8, ic=criterion)
    assert ours.order == max(ref.ar_lags, default=0)
    assert criterion != "bic" or ours.order == 4  # BIC finds the true order here
    # statsmodels counts p + 1 parameters there (no sigma2): our values are its values + one parameter's penalty
    ref_values = {0 if k == 0 else len(k): v for k, v in getattr(ref, criterion).items()}
    shift = {p: ours.values[p] - ref_values[p] for p in ours.values}
    assert max(shift.values()) - min(shift.values()) < 1e-8
    assert ours.values[0] > ours.values[4]


def test_forecast_by_hand_ar1():
    m = ARModel(intercept=1.0, coef=[0.5], sigma2=4.0)
    f = m.forecast(3, history=[3.0, 2.0], level=0.95)
    np.testing.assert_allclose(f.mean, [2.0, 2.0, 2.0])  # 1 + 0.5 * 2 = 2, the stationary mean
    var = 4.0 * np.cumsum([1.0, 0.25, 0.0625])
    np.testing.assert_allclose(f.std, np.sqrt(var))
    z = 1.959963984540054
    np.testing.assert_allclose(f.upper - f.mean, z * np.sqrt(var))
    mean, lower, upper = f
    np.testing.assert_array_equal(lower, f.lower)
    np.testing.assert_allclose(ARModel(0.0, [0.5, 0.3], 1.0).psi_weights(4)[0], [1.0, 0.5, 0.55, 0.425])


def test_log_likelihood_by_hand():
    m = ARModel(intercept=0.0, coef=[0.5], sigma2=2.0)
    y = np.array([1.0, 2.0, 0.0])
    resid = np.array([2.0 - 0.5, 0.0 - 1.0])
    expected = -0.5 * (2 * math.log(2 * math.pi * 2.0) + (resid**2).sum() / 2.0)
    assert m.log_likelihood(y) == pytest.approx(expected, rel=1e-12)


def test_columns_fit_independently(series):
    other = ARModel(-1.0, [0.3, 0.2, 0.0], 0.5).simulate(400, seed=2)
    both = ARModel.fit(np.c_[series, other], 3)
    for d, col in enumerate((series, other)):
        one = ARModel.fit(col, 3)
        np.testing.assert_allclose(both.coef[d], one.coef, atol=1e-12)
        np.testing.assert_allclose(both.forecast(5).mean[:, d], one.forecast(5).mean, atol=1e-12)
    assert both.forecast(5).mean.shape == (5, 2)


def test_order_zero_is_the_mean_model(series):
    m = ARModel.fit(series, 0)
    assert m.intercept == pytest.approx(series.mean())
    np.testing.assert_allclose(m.forecast(3).mean, [series.mean()] * 3)
    np.testing.assert_allclose(m.forecast(3).std, [math.sqrt(series.var())] * 3)


def test_state_dict_round_trip_and_torch_input(series):
    m = ARModel.fit(torch.tensor(series), 3)
    state = m.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values()) and state["coef"].dtype == torch.float64
    back = ARModel.from_state_dict(state)
    np.testing.assert_array_equal(back.forecast(4).mean, m.forecast(4).mean)
    safetensors = pytest.importorskip("safetensors.torch")
    again = ARModel.from_state_dict(safetensors.load(safetensors.save(state)))
    np.testing.assert_array_equal(again.forecast(4).upper, m.forecast(4).upper)


def test_simulate_is_seeded():
    np.testing.assert_array_equal(TRUE.simulate(50, seed=9), TRUE.simulate(50, seed=9))
    assert not np.array_equal(TRUE.simulate(50, seed=9), TRUE.simulate(50, seed=10))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda y: ARModel.fit(np.r_[y[:10], np.nan, y[10:]], 2), "NaN values"),
        (lambda y: ARModel.fit(np.r_[y, np.inf], 2), "finite"),
        (lambda y: ARModel.fit(y[:5], 2), "at least 6 values"),
        (lambda y: ARModel.fit(np.ones(50), 2), "residual variance 0"),
        (lambda y: ARModel.fit(np.c_[y, np.ones_like(y)], 2), "column 1 is fitted exactly"),
        (lambda y: ARModel.fit(y, -1), "order to be an int >= 0"),
        (lambda y: ARModel.fit(y, 2.0), "order to be an int >= 0"),
        (lambda y: ARModel.fit(y, 2, method="burg"), "method to be one of"),
        (lambda y: ARModel.fit(y, 2, method="yule_walker", yw_method="x"), "yw_method"),
        (lambda y: ARModel.fit(y.reshape(2, 2, -1), 2), "1-D"),
        (lambda y: ARModel.fit("abc", 2), "array of numbers"),
        (lambda y: ARModel.fit(y, 2).forecast(0), "steps to be an int >= 1"),
        (lambda y: ARModel.fit(y, 2).forecast(3, level=1.5), "level"),
        (lambda y: ARModel.fit(y, 2).forecast(3, history=[1.0]), "at least 2 past values"),
        (lambda y: ARModel.fit(y, 2).forecast(3, history=np.ones((4, 2))), "1 series"),
        (lambda y: ARModel(0.0, [0.5], 2.0).forecast(3), "no history"),
        (lambda y: ARModel(0.0, [0.5], -1.0), "sigma2 > 0"),
        (lambda y: ARModel(0.0, [[[0.5]]], 1.0), "coef of shape"),
        (lambda y: ARModel(0.0, [0.5], 1.0).criterion("aic"), "fitted model"),
        (lambda y: ARModel.fit(y, 2).criterion("fpe"), "criterion to be one of"),
        (lambda y: select_order(y, 3, "fpe"), "criterion to be one of"),
        (lambda y: select_order(np.c_[y, y], 3), "one series"),
        (lambda y: select_order(y[:8], 3), "at least 9 values"),
        (lambda y: select_order(np.full(40, 2.0), 3), "fits the series exactly"),
        (lambda y: ARModel.from_state_dict({"coef": torch.zeros(1, 1)}), "lacks"),
    ],
)
def test_errors_are_one_line(series, call, message):
    with pytest.raises(ValueError, match=message) as info:
        call(series)
    assert "\n" not in str(info.value)
