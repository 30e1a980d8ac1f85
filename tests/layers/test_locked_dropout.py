"""Locked dropout: one mask per row shared by every step; identity in evaluation."""

import pytest
import torch

from unrolled.layers.locked_dropout import LockedDropout


def test_one_mask_per_row_shared_over_time():
    torch.manual_seed(0)
    drop = LockedDropout(0.5)
    x = torch.ones(3, 9, 20)
    y = drop(x)
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(y, y[:, :1].expand_as(y))  # every step of a row has the row's mask
    assert not torch.equal(y[0, 0], y[1, 0])  # rows have their own masks
    drop.eval()
    assert torch.equal(drop(x), x)


def test_errors():
    with pytest.raises(ValueError, match=r"expected p in \[0, 1\)"):
        LockedDropout(1.5)
    with pytest.raises(ValueError, match=r"expected a \(B, T, I\) input"):
        LockedDropout(0.5)(torch.ones(3, 4))
