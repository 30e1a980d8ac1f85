"""Forecast and drift plots: the figure holds exactly the data given; PNG files; errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from unrolled.viz.forecast import drift_figure, forecast_figure, plot_drift, plot_forecast

PNG = b"\x89PNG\r\n\x1a\n"


def test_forecast_figure_draws_the_given_values_and_interval():
    actual, mean = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 2.0])
    lower, upper = mean - 1.0, mean + 1.0
    fig = forecast_figure(actual, mean, lower, upper, history=[0.0, 0.5], level=0.9)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["forecast"].get_ydata(), mean)
    np.testing.assert_array_equal(lines["actual"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines["history"].get_xdata(), [-1, 0])
    band = ax.collections[0]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(lower.min()) and ys.max() == pytest.approx(upper.max())
    assert band.get_label() == "90% interval"
    plt.close(fig)


def test_drift_figure_one_line_per_method():
    fig = drift_figure({"recursive": [0.1, 0.3, 0.9], "direct": [0.2, 0.25, 0.3]}, horizons=[1, 5, 10])
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    np.testing.assert_array_equal(lines["recursive"].get_ydata(), [0.1, 0.3, 0.9])
    np.testing.assert_array_equal(lines["direct"].get_xdata(), [1, 5, 10])
    plt.close(fig)


def test_png_files(tmp_path):
    plot_forecast(tmp_path / "f.png", [1.0, np.nan], [1.0, 2.0], lower=[0.0, 1.0], upper=[2.0, 3.0])
    plot_drift(tmp_path / "d.png", {"ar": [1.0, 2.0]})
    for name in ("f.png", "d.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert not plt.get_fignums()  # closed after saving


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: forecast_figure([1.0, 2.0], [1.0]), "actual to have 1 values"),
        (lambda: forecast_figure([1.0], [1.0], lower=[0.0]), "both lower and upper"),
        (lambda: forecast_figure([1.0], [1.0], lower=[2.0], upper=[0.0]), "lower <= upper"),
        (lambda: forecast_figure([1.0], np.ones((1, 2))), "1-D array"),
        (lambda: drift_figure({}), "non-empty mapping"),
        (lambda: drift_figure({"a": [1.0, 2.0], "b": [1.0]}), "'b' has 1"),
        (lambda: drift_figure({"a": [1.0, 2.0]}, horizons=[1]), "horizons to have 2"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
    plt.close("all")
