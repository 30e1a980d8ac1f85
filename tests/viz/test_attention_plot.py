"""The attention heatmap writes a PNG of the right layout and refuses mismatched shapes."""

import pytest
import torch

from unrolled.viz.attention import plot_attention


def test_png_written(tmp_path):
    out = tmp_path / "a.png"
    plot_attention(torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]]), ["a", "b", "c"], ["x", "y"], out, title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shape_error(tmp_path):
    with pytest.raises(ValueError, match="T=2 target tokens, S=2 source tokens"):
        plot_attention([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], ["a", "b"], ["x", "y"], tmp_path / "a.png")
