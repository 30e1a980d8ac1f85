"""One table says which cells torch computes (``TORCH_TWINS``): the fused path, ``to_torch`` / ``from_torch`` and the
error messages all agree with it, for every cell configuration, subclasses included."""

import pytest
import torch
from torch import nn

from unrolled.cells import ElmanCell, GRUCell, LSTMCell, make_cell
from unrolled.layers import Recurrent, convert
from unrolled.layers.fused import STANDARD_CELLS, TORCH_TWINS, torch_twin

I, H = 3, 4


class ScaledLSTMCell(LSTMCell):
    """A subclass that changes the step: torch's LSTM kernel does not compute it."""

    def step(self, xp_t, state):
        h, (h1, c) = super().step(xp_t, state)
        return 0.5 * h, (0.5 * h1, c)


CONFIGS = [
    ("elman", {}, "RNN_TANH"),
    ("rnn_relu", {}, "RNN_RELU"),
    ("elman", {"nonlinearity": "sigmoid"}, None),
    ("lstm", {}, "LSTM"),
    ("lstm", {"proj_size": 2, "bias": False}, "LSTM"),
    ("lstm", {"peephole": True}, None),
    ("gru", {}, "GRU"),
    ("gru_before", {}, None),
    ("leaky", {}, None),
    ("jordan", {}, None),
    ("ln_lstm", {}, None),
    ("ln_gru", {}, None),
]


def test_standard_cells_message_is_built_from_the_table():
    assert STANDARD_CELLS == "elman tanh/relu, lstm without peepholes, gru reset='after'"
    assert [t.mode for t in TORCH_TWINS] == ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


@pytest.mark.parametrize(("name", "kw", "mode"), CONFIGS, ids=[f"{n}-{'-'.join(k)}" for n, k, _ in CONFIGS])
def test_fused_and_to_torch_agree_with_the_table(name, kw, mode):
    twin = torch_twin(make_cell(name, I, H, **kw))
    assert (twin.mode if twin else None) == mode
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, num_layers=2, bidirectional=True, **kw).double()
    assert rec.uses_fused == [mode is not None] * 2
    if mode is None:
        with pytest.raises(ValueError, match=r"to_torch needs standard cells \(" + STANDARD_CELLS.replace("(", r"\(")):
            rec.to_torch()
        with pytest.raises(ValueError, match=r"backend='fused' needs standard cells"):
            Recurrent(name, I, H, backend="fused", **kw)
        return
    module = rec.to_torch()
    assert module.mode == mode and type(module) is twin.module
    x = torch.randn(2, 5, I, dtype=torch.float64)
    y, state = rec(x)
    y_t, hx = module(x)
    torch.testing.assert_close(y, y_t, rtol=1e-12, atol=1e-13)
    want = convert.state_to_torch(rec, state)
    for a, b in zip(want if isinstance(want, tuple) else (want,), hx if isinstance(hx, tuple) else (hx,), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    back = Recurrent.from_torch(module)
    assert type(back.cells[0]) is twin.cell and torch_twin(back.cells[0]) is twin
    torch.testing.assert_close(back(x)[0], y, rtol=0, atol=0)


def test_a_subclass_is_neither_fused_nor_converted_and_runs_its_own_step():
    torch.manual_seed(0)
    rec = Recurrent(ScaledLSTMCell(I, H), I, H).double()
    assert torch_twin(rec.cells[0]) is None and rec.uses_fused == [False]
    with pytest.raises(ValueError, match=r"to_torch needs standard cells"):
        rec.to_torch()  # (it used to build an nn.LSTM, which computes another function)
    x = torch.randn(2, 5, I, dtype=torch.float64)
    cell, s, outs = rec.cells[0], rec.cells[0].init_state(2), []
    for t in range(5):
        y, s = cell(x[:, t], s)
        outs.append(y)
    torch.testing.assert_close(rec(x)[0], torch.stack(outs, 1), rtol=1e-13, atol=1e-14)
    plain = Recurrent("lstm", I, H).double()
    plain.load_state_dict(rec.state_dict())
    torch.testing.assert_close(rec(x)[0][:, 0], 0.5 * plain(x[:, :1])[0][:, 0], rtol=1e-13, atol=1e-14)


def test_mixed_bias_or_projection_is_not_one_torch_module():
    from unrolled.layers.fused import common_twin

    assert common_twin([LSTMCell(I, H), LSTMCell(I, H)]).mode == "LSTM"
    assert common_twin([LSTMCell(I, H), LSTMCell(I, H, bias=False)]) is None
    assert common_twin([LSTMCell(I, H), LSTMCell(I, H, proj_size=2)]) is None
    assert common_twin([ElmanCell(I, H), ElmanCell(I, H, nonlinearity="relu")]) is None
    assert common_twin([GRUCell(I, H), GRUCell(I, H, reset="before")]) is None


def test_state_conversion_lives_in_convert_and_round_trips():
    torch.manual_seed(0)
    rec = Recurrent("lstm", I, H, num_layers=2, bidirectional=True, proj_size=2)
    state = rec(torch.randn(3, 4, I))[1]
    h_n, c_n = convert.state_to_torch(rec, state)
    assert h_n.shape == (4, 3, 2) and c_n.shape == (4, 3, H)
    torch.testing.assert_close(h_n[3], state[3][0], rtol=0, atol=0)  # layer 1 reverse, torch's order
    for a, b in zip(rec.state_to_torch(state), (h_n, c_n), strict=True):
        assert torch.equal(a, b)
    back = convert.state_from_torch(rec, (h_n, c_n))
    assert all(torch.equal(a, b) for s, t in zip(back, state, strict=True) for a, b in zip(s, t, strict=True))
    gru = Recurrent("gru", I, H, num_layers=2)
    hx = torch.randn(2, 3, H)
    assert torch.equal(convert.state_to_torch(gru, convert.state_from_torch(gru, hx)), hx)


def test_from_torch_rejects_other_modules():
    with pytest.raises(TypeError, match=r"^from_torch expects torch\.nn\.RNN, LSTM or GRU, got RNNCell$"):
        Recurrent.from_torch(nn.RNNCell(I, H))
