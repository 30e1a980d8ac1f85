r"""The delay paths (skip connections through time, Lin et al. 1996) checked against their equation written out:

.. math::
    \tilde x_t = \mathrm{proj}(x_t) + \sum_{d > 1} W_d\, y_{t-d}

with :math:`y_{t-d} = 0` for :math:`t < d` from a zero state, or read from the carried history, a hand loop over
``cell.step``. Two extra delays with different matrices, so pairing a matrix with the wrong delay fails."""

import pytest
import torch

from unrolled.layers import Recurrent

B, T, I, H = 3, 9, 2, 4
DELAYS = (1, 5, 2)  # unsorted on purpose: W for d = extra_delays[k] is delay_weights[i][k], ascending d


def hand_loop(cell, weights, x, state, history):
    """weights: {d: W_d}; x (B, T, I); history (B, dmax, O) holding y_{-dmax} .. y_{-1}."""
    dmax = history.shape[1]
    ys = []

    def y(k):  # y_k, from this chunk (k >= 0) or from the history (k < 0)
        return ys[k] if k >= 0 else history[:, dmax + k]

    xp = cell.project_input(x.transpose(0, 1))  # (T, B, G)
    for t in range(x.shape[1]):
        x_t = xp[t] + sum(y(t - d) @ w.T for d, w in weights.items())
        out, state = cell.step(x_t, state)
        ys.append(out)
    out = torch.stack(ys, 1)  # (B, T, O)
    new_history = torch.cat([history, out], 1)[:, -dmax:]
    return out, state, new_history


def flat(s):
    return list(s) if isinstance(s, tuple) else [s]


@pytest.mark.parametrize("carried", [False, True], ids=["zero-state", "carried-history"])
@pytest.mark.parametrize(("name", "kw"), [("elman", {}), ("lstm", {"proj_size": 3}), ("gru_before", {})])
def test_delay_paths_follow_the_equation(name, kw, carried):
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, delays=DELAYS, **kw).double()
    assert rec.extra_delays == (2, 5)
    cell = rec.cells[0]
    W2, W5 = rec.delay_weights[0]
    with torch.no_grad():  # make both paths matter
        W2.mul_(3.0)
        W5.mul_(-2.0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, generator=g, dtype=torch.float64, requires_grad=True)
    zero_cell, zero_hist = rec.init_state(B)[0]
    assert zero_hist.shape == (B, 5, cell.output_size)
    if carried:
        cell_state = [torch.randn(t.shape, generator=g, dtype=torch.float64) for t in flat(zero_cell)]
        history = torch.randn(zero_hist.shape, generator=g, dtype=torch.float64)
    else:
        cell_state, history = [t.clone() for t in flat(zero_cell)], zero_hist.clone()
    leaves = [t.requires_grad_(True) for t in [*cell_state, history]]
    s0 = tuple(cell_state) if isinstance(zero_cell, tuple) else cell_state[0]

    out, ((s_rec, h_rec),) = rec(x, ((s0, history),))
    want, s_hand, h_hand = hand_loop(cell, {2: W2, 5: W5}, x, s0, history)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-13)
    for a, b in zip(flat(s_rec), flat(s_hand), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(h_rec, h_hand, rtol=1e-12, atol=1e-13)

    # every gradient: input, initial state, history, cell parameters and both delay matrices
    R = torch.randn(out.shape, generator=g, dtype=torch.float64)
    wrt = [x, *leaves, *rec.parameters()]
    names = ["x", *[f"state{k}" for k in range(len(leaves))], *(n for n, _ in rec.named_parameters())]
    loss_rec = (out * R).sum() + sum(t.square().sum() for t in [*flat(s_rec), h_rec])
    loss_hand = (want * R).sum() + sum(t.square().sum() for t in [*flat(s_hand), h_hand])
    g_rec = torch.autograd.grad(loss_rec, wrt, allow_unused=True)
    g_hand = torch.autograd.grad(loss_hand, wrt, allow_unused=True)
    for n, a, b in zip(names, g_rec, g_hand, strict=True):
        assert (a is None) == (b is None), n
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=n)
    assert g_rec[names.index("delay_weights.0.0")].abs().sum() > 0
    assert g_rec[names.index("delay_weights.0.1")].abs().sum() > 0

    # the test can tell the two delays apart: the matrices swapped give other numbers
    swapped, _, _ = hand_loop(cell, {2: W5, 5: W2}, x, s0, history)
    assert (swapped - out).abs().max() > 1e-3


def test_zero_state_means_no_contribution_before_the_delay():
    """From a zero state, y_{t-d} = 0 for t < d: the first two steps equal the plain cell, the third does not."""
    torch.manual_seed(0)
    rec = Recurrent("elman", I, H, delays=(1, 3)).double()
    plain = Recurrent("elman", I, H).double()
    plain.cells.load_state_dict(rec.cells.state_dict())
    x = torch.randn(B, 5, I, dtype=torch.float64)
    y, y_plain = rec(x)[0], plain(x)[0]
    torch.testing.assert_close(y[:, :3], y_plain[:, :3], rtol=0, atol=0)
    assert (y[:, 3] - y_plain[:, 3]).abs().max() > 1e-4
