"""Per-step gradient norms equal autograd on a hand-built unrolled Elman net; off means untouched."""

from __future__ import annotations

import torch

from unrolled.analysis import GradientNormCallback, GradientNormRecorder
from unrolled.layers import Recurrent


def _hand_norms(rnn: Recurrent, x: torch.Tensor) -> list[float]:
    c = rnn.cells[0]
    h = torch.zeros(x.shape[0], c.hidden_size, dtype=x.dtype)
    hs = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ c.weight_ih.T + c.bias_ih + h @ c.weight_hh.T + c.bias_hh)
        h.retain_grad()
        hs.append(h)
    loss = (hs[-1] ** 2).sum() + hs[1].sum()  # reaches h_1 directly and through later steps
    loss.backward()
    return [float(h.grad.norm()) for h in hs]


def test_norms_equal_autograd_and_recorder_off_restores_paths():
    torch.manual_seed(0)
    rnn = Recurrent("elman", 3, 4).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    want = _hand_norms(rnn, x)
    paths = rnn.paths()
    rec = GradientNormRecorder(rnn)
    with rec:
        y, _ = rnn(x)
        ((y[:, -1] ** 2).sum() + y[:, 1].sum()).backward()
    got = rec.norms()["layer0"].tolist()
    assert torch.allclose(torch.tensor(got, dtype=torch.float64), torch.tensor(want, dtype=torch.float64), rtol=1e-5)
    assert want[0] < want[1]  # the hand case is not trivial: h_1's own output term dominates h_0's
    assert rnn.paths() == paths and "step" not in vars(rnn.cells[0])
    rec.clear()
    rnn(x)[0].sum().backward()  # off: nothing recorded
    assert rec.norms() == {}


def test_callback_records_every_k_steps():
    rnn = Recurrent("gru", 2, 3)
    rec = GradientNormRecorder(rnn)
    cb = GradientNormCallback(rec, every=2)
    cb.on_fit_start(None)
    for step in range(1, 6):
        rnn(torch.randn(2, 4, 2))[0].sum().backward()
        cb.on_step_end(None, step, {})
    cb.on_fit_end(None, None)
    assert [s for s, _ in cb.history] == [1, 3, 5] and not rec.on
    assert all(n["layer0"].shape == (4,) for _, n in cb.history)


def test_recorder_and_pascanu_capture_nest():
    from unrolled.analysis import StepCapture

    rnn = Recurrent("gru", 2, 3)
    rec = GradientNormRecorder(rnn)
    with rec:
        with StepCapture(rnn) as cap:
            y, _ = rnn(torch.randn(2, 4, 2))
        assert len(cap.cells[0].steps) == 4
        y.sum().backward()
    assert rec.norms()["layer0"].shape == (4,) and "step" not in vars(rnn.cells[0])
