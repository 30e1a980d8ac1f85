"""The Pascanu regulariser equals a hand computation on a 2-step Elman net and trains with clipping."""

from __future__ import annotations

import torch

from unrolled.analysis import PascanuObjective, StepCapture, pascanu_regularizer
from unrolled.layers import Recurrent
from unrolled.train.objective import StepResult


def test_two_step_elman_matches_hand_computation():
    torch.manual_seed(1)
    rnn = Recurrent("elman", 2, 3).double()
    c = rnn.cells[0]
    x = torch.randn(1, 2, 2, dtype=torch.float64)
    with StepCapture(rnn) as cap:
        y, _ = rnn(x)
        loss = (y[:, -1] ** 2).sum() + y[:, 0].sum()
    omega = pascanu_regularizer(loss, cap)

    # by hand: h_t = tanh(a_t), J_t = diag(1 - h_t^2) W, g_t = dL/dh_t (total)
    W, U, b = c.weight_hh.detach(), c.weight_ih.detach(), (c.bias_ih + c.bias_hh).detach()
    h0 = torch.zeros(3, dtype=torch.float64)
    h1 = torch.tanh(U @ x[0, 0] + W @ h0 + b)
    h2 = torch.tanh(U @ x[0, 1] + W @ h1 + b)
    g2 = 2 * h2
    g1 = torch.ones(3, dtype=torch.float64) + (g2 * (1 - h2**2)) @ W
    want = 0.0
    for g, h in ((g1, h1), (g2, h2)):
        v = (g * (1 - h**2)) @ W
        want += (v.norm() / g.norm() - 1) ** 2
    assert torch.allclose(omega, want, rtol=1e-10)

    # its gradient treats g_t and h_{t-1} as constants: compare with autograd of the hand formula in W
    Wv = W.clone().requires_grad_(True)
    a1, a2 = U @ x[0, 0] + b, U @ x[0, 1] + Wv @ h1 + b
    hh1, hh2 = torch.tanh(a1 + Wv @ h0), torch.tanh(a2)
    hand = sum((((g * (1 - h**2)) @ Wv).norm() / g.norm() - 1) ** 2 for g, h in ((g1, hh1), (g2, hh2)))
    (gw,) = torch.autograd.grad(hand, Wv)
    omega.backward()
    assert torch.allclose(c.weight_hh.grad, gw, rtol=1e-8)


def test_objective_wrapper_adds_weighted_omega_in_training_only():
    torch.manual_seed(0)
    rnn = Recurrent("lstm", 2, 4)
    x = torch.randn(3, 5, 2)

    def objective(model, batch, state):
        y, _ = model(batch)
        return StepResult(loss=y[:, -1].pow(2).mean(), count=3)

    wrapped = PascanuObjective(objective, weight=0.5)
    plain = objective(rnn, x, None).loss
    reg = wrapped(rnn, x, None).loss
    assert torch.allclose(reg, plain + 0.5 * wrapped.last_omega)
    assert wrapped.last_omega > 0
    with torch.no_grad():
        assert torch.allclose(wrapped(rnn, x, None).loss, plain)
    reg.backward()
    torch.nn.utils.clip_grad_norm_(rnn.parameters(), 1.0)
    assert all(torch.isfinite(p.grad).all() for p in rnn.parameters())
