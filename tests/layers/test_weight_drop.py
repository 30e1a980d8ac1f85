"""Weight drop: only hidden-to-hidden weights masked, one mask per batch, off in evaluation, fused path too."""

import pytest
import torch

from unrolled.layers.recurrent import Recurrent
from unrolled.layers.weight_drop import weight_drop


def _reference(rnn, x, masks):
    """The LSTM run step by step with W_hh replaced by mask * W_hh (hand-written gates, torch's layout)."""
    h = torch.zeros(x.shape[0], rnn.hidden_size, dtype=x.dtype)
    c = torch.zeros_like(h)
    ys = []
    for layer, cell in enumerate(rnn.cells):
        W_hh = cell.weight_hh_raw * masks[layer]
        outs = []
        h = torch.zeros(x.shape[0], rnn.hidden_size, dtype=x.dtype)
        c = torch.zeros_like(h)
        for t in range(x.shape[1]):
            g = x[:, t] @ cell.weight_ih.T + cell.bias_ih + h @ W_hh.T + cell.bias_hh
            i, f, gg, o = g.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        x = torch.stack(outs, 1)
        ys.append(x)
    return x


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_masks_only_hidden_to_hidden_with_one_mask_per_batch(backend):
    torch.manual_seed(0)
    rnn = Recurrent("lstm", 3, 5, num_layers=2, backend=backend).double()
    ih_before = [c.weight_ih.detach().clone() for c in rnn.cells]
    weight_drop(rnn, 0.5)
    x = torch.randn(4, 7, 3, dtype=torch.double)
    y, _ = rnn(x)  # (4, 7, 5)
    hook = rnn._weight_drop
    masks = list(hook.masks)
    for m in masks:  # entries 0 or 1/(1-p) = 2, about half of each
        assert set(m.unique().tolist()) <= {0.0, 2.0} and 0.2 < (m == 0).double().mean() < 0.8
    torch.testing.assert_close(y, _reference(rnn, x, masks))  # every row and every step used the same mask
    for cell, before in zip(rnn.cells, ih_before, strict=True):
        torch.testing.assert_close(cell.weight_ih, before)  # input-to-hidden never touched
    names = {n for n, _ in rnn.named_parameters()}
    assert "cells.0.weight_hh_raw" in names and "cells.0.weight_hh" not in names
    y.sum().backward()
    grad = rnn.cells[0].weight_hh_raw.grad
    assert torch.all(grad[masks[0] == 0] == 0)  # dropped weights get no gradient
    y2, _ = rnn(x)
    assert not torch.equal(rnn._weight_drop.masks[0], masks[0])  # a new batch draws a new mask


def test_off_in_evaluation():
    torch.manual_seed(0)
    rnn = Recurrent("lstm", 3, 5, num_layers=1)
    plain = Recurrent("lstm", 3, 5, num_layers=1)
    plain.load_state_dict({k.replace("_raw", ""): v for k, v in rnn.state_dict().items()})
    weight_drop(rnn, 0.5)
    rnn.eval()
    x = torch.randn(2, 6, 3)
    y, _ = rnn(x)
    torch.testing.assert_close(y, plain(x)[0])
    assert rnn._weight_drop.masks == [None]


def test_errors():
    with pytest.raises(ValueError, match=r"expected p in \[0, 1\), got 1.0"):
        weight_drop(Recurrent("lstm", 3, 5), 1.0)
    with pytest.raises(ValueError, match="expected a Recurrent layer"):
        weight_drop(torch.nn.Linear(2, 2), 0.5)
