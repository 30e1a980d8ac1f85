"""Linear interpolation of gaps: hand-computed fills, edges, columns, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.data.gaps import gap_mask, linear_interpolate


def test_interior_gaps_on_the_line_and_edges_held():
    y = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])
    np.testing.assert_allclose(linear_interpolate(y), [1.0, 1.0, 2.0, 3.0, 4.0, 4.0])
    np.testing.assert_array_equal(gap_mask(y), np.isnan(y))


def test_columns_are_independent_and_input_is_not_modified():
    y = np.array([[0.0, 10.0], [np.nan, np.nan], [2.0, 30.0], [3.0, np.nan]])
    out = linear_interpolate(torch.tensor(y))
    np.testing.assert_allclose(out, [[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 30.0]])
    assert np.isnan(y[1, 0])


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([1.0, np.inf]), "got inf"),
        (np.zeros((2, 2, 2)), r"shape \(T,\) or \(T, D\)"),
        (np.array([[1.0, np.nan], [2.0, np.nan]]), "column 1 is entirely missing"),
        ("ab", "array of numbers"),
    ],
)
def test_errors(y, message):
    with pytest.raises(ValueError, match=message):
        linear_interpolate(y)
