"""Confusion-matrix PNG: the normalisation by hand, a real PNG of the expected size, errors."""

from __future__ import annotations

import numpy as np
import pytest

from unrolled.viz.confusion import plot_confusion, row_normalised


def test_row_normalised_by_hand():
    got = row_normalised(np.array([[2, 2, 0], [0, 0, 0], [1, 0, 3]]))
    assert got.tolist() == [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.25, 0.0, 0.75]]


def test_writes_a_png(tmp_path):
    out = plot_confusion([[5, 1], [2, 7]], ["neg", "pos"], tmp_path / "sub" / "c.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (500, 400)  # (size + 1) x size inches at 100 dpi, size = 4 for C = 2
    big = plot_confusion(np.eye(12, dtype=int), [f"c{i}" for i in range(12)], tmp_path / "big.png")
    assert int.from_bytes(big.read_bytes()[20:24], "big") == round((0.45 * 12 + 2) * 100)


@pytest.mark.parametrize(
    "counts, labels, message",
    [
        ([[1, 2, 3]], ["a"], r"square confusion matrix"),
        ([[1, 2], [3, 4]], ["a"], "expected 2 class names, got 1"),
    ],
)
def test_errors(tmp_path, counts, labels, message):
    with pytest.raises(ValueError, match=message):
        plot_confusion(counts, labels, tmp_path / "x.png")
