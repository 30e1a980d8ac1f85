"""2-D RNN: the diagonal sweep equals the pixel-by-pixel recurrence; four sweeps equal one sweep on flipped
images; gradcheck; errors."""

import pytest
import torch

from unrolled.layers.mdrnn import CORNERS, MultiDirectional2dRNN, Sweep2d


def _naive(sweep, x):
    B, R, C, _ = x.shape
    h = {}
    zero = x.new_zeros(B, sweep.hidden_size)
    for i in range(R):
        for j in range(C):
            a = x[:, i, j] @ sweep.weight_ih.T + sweep.bias
            a = a + h.get((i - 1, j), zero) @ sweep.weight_up.T + h.get((i, j - 1), zero) @ sweep.weight_left.T
            h[i, j] = torch.tanh(a)
    return torch.stack([torch.stack([h[i, j] for j in range(C)], 1) for i in range(R)], 1)


@pytest.mark.parametrize("R, C", [(4, 4), (3, 5), (5, 2), (1, 3)])
def test_sweep_equals_pixel_by_pixel(R, C):
    torch.manual_seed(0)
    sweep = Sweep2d(2, 3).double()
    x = torch.randn(2, R, C, 2, dtype=torch.float64)
    torch.testing.assert_close(sweep(x), _naive(sweep, x), rtol=1e-12, atol=1e-13)


def test_four_sweeps_equal_one_sweep_on_flipped_images():
    torch.manual_seed(1)
    rnn = MultiDirectional2dRNN(1, 3).double()
    x = torch.randn(2, 4, 5, 1, dtype=torch.float64)
    y = rnn(x)  # (B, R, C, 4H)
    for k, (name, sweep) in enumerate(zip(rnn.corners, rnn.sweeps)):
        dims = CORNERS[name]
        flipped = x.flip(dims) if dims else x
        want = _naive(sweep, flipped)
        want = want.flip(dims) if dims else want
        torch.testing.assert_close(y[..., 3 * k : 3 * k + 3], want, rtol=1e-12, atol=1e-13)
    # the bottom-right sweep's first pixel is the last one: it reads only its own pixel
    s = rnn.sweeps[3]
    torch.testing.assert_close(y[:, -1, -1, 9:], torch.tanh(x[:, -1, -1] @ s.weight_ih.T + s.bias))
    summed = MultiDirectional2dRNN(1, 3, combine="sum").double()
    summed.load_state_dict(rnn.state_dict())
    torch.testing.assert_close(summed(x), y.view(2, 4, 5, 4, 3).sum(3))


def test_gradcheck_float64():
    torch.manual_seed(2)
    rnn = MultiDirectional2dRNN(1, 2, combine="mean").double()
    x = torch.randn(1, 3, 3, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rnn, (x,))


def test_errors():
    with pytest.raises(ValueError, match=r"expected input of shape \(B, R, C, 1\), got \(2, 8, 8\)"):
        Sweep2d(1, 2)(torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="corners: expected distinct names"):
        MultiDirectional2dRNN(1, 2, corners=("top_left", "middle"))
    with pytest.raises(ValueError, match="combine: expected one of"):
        MultiDirectional2dRNN(1, 2, combine="max")
