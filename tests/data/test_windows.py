"""Windows: no future value in any input, targets inside their part, scaling from training statistics only."""

from __future__ import annotations

import numpy as np
import pytest

from unrolled.data.windows import MinMaxScaler, StandardScaler, make_windows, split


def test_windows_by_hand_and_no_leak():
    x = np.stack([np.arange(30.0), 100 + np.arange(30.0)], axis=1)  # value = its own time index (+100)
    w = make_windows(x, window=4, horizon=3, target_columns=(0,), future_columns=(1,))
    assert len(w) == 30 - 4 - 3 + 1
    np.testing.assert_array_equal(w.inputs[0], x[0:4])
    np.testing.assert_array_equal(w.targets[0, :, 0], [4, 5, 6])
    np.testing.assert_array_equal(w.future[0, :, 0], [104, 105, 106])
    # every input time is strictly before every target time of its window
    assert (w.inputs[:, :, 0].max(axis=1) < w.targets[:, :, 0].min(axis=1)).all()
    assert (w.inputs[:, -1, 0] + 1 == w.start).all()


def test_part_windows_keep_targets_inside_and_many_series():
    s = split(100, valid_fraction=0.1, test_fraction=0.2)
    assert (s.train_end, s.valid_end) == (70, 80)
    x = np.arange(100.0)
    test = make_windows(x, 5, 2, first_target=s.valid_end)
    assert test.targets.min() >= 80 and test.targets.max() <= 99
    assert test.inputs.min() == 75  # context from the past parts is allowed, never from the future
    train = make_windows(x, 5, 2, last_target=s.train_end)
    assert train.targets.max() <= 69 and train.inputs.max() <= 67
    many = make_windows([np.arange(10.0), 50 + np.arange(8.0)], 3, 1)
    assert len(many) == 7 + 5 and many.series.tolist() == [0] * 7 + [1] * 5
    assert many.inputs[7, :, 0].tolist() == [50, 51, 52] and many.targets[7, 0, 0] == 53


def test_scaling_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 70), rng.normal(50, 10, 30)])[:, None]  # the future is very different
    s = split(100, 0.1, 0.2)
    sc = StandardScaler().fit(x[: s.train_end])
    assert sc.shift[0] == pytest.approx(x[:70].mean()) and sc.scale[0] == pytest.approx(x[:70].std())
    z = sc.transform(x)
    assert abs(z[:70].mean()) < 1e-12 and abs(z[:70].std() - 1) < 1e-12
    assert z[70:].mean() > 10  # the test part is not re-centred by its own statistics
    np.testing.assert_allclose(sc.inverse_transform(z), x)
    mm = MinMaxScaler().fit(x[:70])
    assert mm.transform(x[:70]).min() == 0 and mm.transform(x[:70]).max() == 1
    assert mm.transform(x[70:]).max() > 1
    # changing the future leaves the fitted statistics unchanged
    x2 = x.copy()
    x2[70:] = -1e6
    assert StandardScaler().fit(x2[:70]).state() == sc.state()


def test_errors():
    x = np.arange(10.0)
    x[3] = np.nan
    with pytest.raises(ValueError, match=r"missing or non-finite value\(s\) \(first at time 3, column 0\)"):
        make_windows(x, 2, 1)
    with pytest.raises(ValueError, match="no window"):
        make_windows(np.arange(5.0), 4, 2)
    with pytest.raises(ValueError, match="window"):
        make_windows(np.arange(5.0), 0, 1)
    with pytest.raises(ValueError, match="before fit"):
        StandardScaler().transform(np.ones(3))
    with pytest.raises(ValueError, match="no training part"):
        split(3, 0.4, 0.5)
    with pytest.raises(ValueError, match="target_columns"):
        make_windows(np.ones((10, 2)), 2, 1, target_columns=(2,))
