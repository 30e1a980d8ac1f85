"""Forecast metrics: hand-computed values, NaN targets skipped, NaN predictions refused, MASE scale, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unrolled.metrics.forecast import FORECAST_METRICS, by_horizon, mae, mase, mse, nrmse, rmse

PRED = [1.0, 2.0, 4.0, 0.0]
TRUE = [1.0, 2.0, 2.0, 1.0]  # errors 0, 0, 2, -1


def test_values_by_hand():
    assert mse(PRED, TRUE) == pytest.approx(5 / 4)
    assert rmse(PRED, TRUE) == pytest.approx(math.sqrt(5 / 4))
    assert mae(PRED, TRUE) == pytest.approx(3 / 4)
    sd = np.std(TRUE)  # population standard deviation of the target: sqrt(0.5)
    assert nrmse(PRED, TRUE) == pytest.approx(math.sqrt(5 / 4) / sd)
    assert nrmse(np.full(4, np.mean(TRUE)), TRUE) == pytest.approx(1.0)  # predicting the mean scores 1


def test_mase_scales_by_the_naive_forecast_of_the_training_series():
    train = np.array([1.0, 3.0, 2.0, 6.0])  # naive |diffs| 2, 1, 4 -> 7/3
    assert mase(PRED, TRUE, train) == pytest.approx((3 / 4) / (7 / 3))
    seasonal = np.array([1.0, 5.0, 2.0, 7.0, 4.0])  # m = 2: |2-1|, |7-5|, |4-2| -> 5/3
    assert mase(PRED, TRUE, seasonal, season=2) == pytest.approx((3 / 4) / (5 / 3))
    assert mase(PRED, TRUE, [1.0, np.nan, 2.0, 4.0]) == pytest.approx((3 / 4) / 2.0)  # NaN pairs skipped


def test_nan_targets_are_skipped_and_tensors_accepted():
    p = torch.tensor([[1.0, 9.0], [2.0, 4.0]])
    y = torch.tensor([[1.0, float("nan")], [2.0, 2.0]])
    assert mse(p, y) == pytest.approx(4 / 3)
    assert FORECAST_METRICS["mae"](p, y) == pytest.approx(2 / 3)


def test_by_horizon_scores_each_column():
    pred = np.array([[1.0, 2.0, 0.0], [1.0, 4.0, 3.0]])
    true = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, np.nan]])
    np.testing.assert_allclose(by_horizon(pred, true, "mae"), [0.5, 2.0, 1.0])
    np.testing.assert_allclose(by_horizon(pred, true), [math.sqrt(0.5), math.sqrt(5.0), 1.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mse([1.0, np.nan], [1.0, 2.0]), "prediction holds 1 NaN"),
        (lambda: mse([1.0, 2.0], [1.0]), "same shape"),
        (lambda: mse([np.inf], [1.0]), "finite"),
        (lambda: mse([1.0], [np.nan]), "no observed target"),
        (lambda: mse([], []), "no observed target"),
        (lambda: mse("ab", "cd"), "array of numbers"),
        (lambda: nrmse([1.0, 2.0], [3.0, 3.0]), "target is constant"),
        (lambda: mase(PRED, TRUE, [2.0, 2.0, 2.0]), "naive"),
        (lambda: mase(PRED, TRUE, [2.0]), "longer than season=1"),
        (lambda: mase(PRED, TRUE, [1.0, 2.0, 3.0], season=0), "season to be an int >= 1"),
        (lambda: by_horizon([[1.0]], [[1.0]], "mape"), "metric to be one of"),
        (lambda: by_horizon([1.0], [1.0]), r"shape \(N, K\)"),
    ],
)
def test_errors_are_one_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
