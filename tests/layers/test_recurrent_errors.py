"""Every error ``Recurrent`` raises: one line, saying what was expected."""

import pytest
import torch
from torch import nn

from unrolled.cells import LSTMCell
from unrolled.layers import Recurrent

B, T, I, H = 2, 5, 3, 4
FUSED_MSG = r"backend='fused' needs standard cells \(elman tanh/relu, lstm without peepholes, gru reset='after'\)"
TO_TORCH_MSG = r"to_torch needs standard cells .* merge='concat' and no delays, residual, recurrent dropout or zoneout"
DELAYS_MSG = r"delays must be distinct positive integers including 1, got "


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cell": "transformer"}, ValueError, r"unknown cell 'transformer'; expected one of \['bn_lstm', 'clockwork'"),
        ({"merge": "max"}, ValueError, r"unknown merge mode 'max'; expected one of \['concat', 'mean', 'sum'\]"),
        ({"delays": (2,)}, ValueError, DELAYS_MSG + r"\(2,\)"),
        ({"delays": (1, 2, 2)}, ValueError, DELAYS_MSG + r"\(1, 2, 2\)"),
        ({"delays": (0, 1)}, ValueError, DELAYS_MSG + r"\(0, 1\)"),
        ({"delays": ()}, ValueError, DELAYS_MSG + r"\(\)"),
        ({"delays": (1, 2.0)}, ValueError, DELAYS_MSG + r"\(1, 2\.0\)"),
        ({"delays": (1, True)}, ValueError, DELAYS_MSG + r"\(1, True\)"),
        ({"delays": 3}, ValueError, DELAYS_MSG + r"\(3,\)"),
        ({"dropout": 1.0}, ValueError, r"dropout must be a number in \[0, 1\), got 1\.0"),
        ({"dropout": -0.1}, ValueError, r"dropout must be a number in \[0, 1\), got -0\.1"),
        ({"dropout": "0.1"}, ValueError, r"dropout must be a number in \[0, 1\), got '0\.1'"),
        ({"recurrent_dropout": 1.5}, ValueError, r"recurrent_dropout must be a number in \[0, 1\), got 1\.5"),
        ({"zoneout": float("nan")}, ValueError, r"zoneout must be a number in \[0, 1\), got nan"),
        ({"backend": "cuda"}, ValueError, r"backend must be one of \('auto', 'fused', .*'loop'\), got 'cuda'"),
        ({"cell": "gru_before", "backend": "fused"}, ValueError, FUSED_MSG),
        ({"cell": "ln_lstm", "backend": "fused"}, ValueError, FUSED_MSG),
        ({"cell": "lstm", "peephole": True, "backend": "fused"}, ValueError, FUSED_MSG),
        ({"delays": (1, 2), "backend": "fused"}, ValueError, FUSED_MSG),
        ({"zoneout": 0.1, "backend": "fused"}, ValueError, FUSED_MSG),
        ({"recurrent_dropout": 0.1, "backend": "fused"}, ValueError, FUSED_MSG),
        ({"num_layers": 0}, ValueError, r"num_layers must be a positive integer, got 0"),
        ({"num_layers": True}, ValueError, r"^num_layers must be a positive integer, got True$"),
        ({"num_layers": 2.0}, ValueError, r"^num_layers must be a positive integer, got 2\.0$"),
        ({"cell": "elman", "nonlinearity": "identity"}, ValueError, r"^unknown nonlinearity 'identity'; expected one"),
        ({"input_size": 0}, ValueError, r"input_size must be a positive integer, got 0"),
        ({"proj_size": 4}, ValueError, r"proj_size must be an integer in \[0, hidden_size=4\), got 4"),
        ({"cell": "gru", "reset": "x"}, ValueError, r"reset must be one of \('after', 'before'\), got 'x'"),
        ({"cell": "leaky", "tau": 0.1}, ValueError, r"every tau must be finite and >= 1 .*got 0\.1"),
        ({"foo": 1}, TypeError, r"cell 'lstm': .*unexpected keyword argument 'foo'"),
        ({"cell": nn.LSTM(I, H)}, TypeError, r"cell must be a name or a RecurrentCell, got LSTM"),
        ({"cell": LSTMCell(I, 5)}, ValueError, r"cell instance has input_size=3, hidden_size=5; expected 3 and 4"),
        ({"cell": LSTMCell(I, H), "proj_size": 2}, TypeError, r"cell options \['proj_size'\] apply only to a cell"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    kwargs = {"cell": "lstm", "input_size": I, "hidden_size": H, **kwargs}
    with pytest.raises(error, match=match):
        Recurrent(**kwargs)


RNN = Recurrent("lstm", I, H, num_layers=2)
X = torch.zeros(B, T, I)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: RNN(torch.zeros(B, I)), ValueError, r"Recurrent expected a 3-D input \(B, T, I\), got \(2, 3\)"),
        (lambda: RNN([1.0, 2.0]), ValueError, r"Recurrent expected a 3-D input \(B, T, I\), got list"),
        (
            lambda: Recurrent("gru", I, H, batch_first=False)(torch.zeros(1, 2, 3, 4)),
            ValueError,
            r"Recurrent expected a 3-D input \(T, B, I\), got \(1, 2, 3, 4\)",
        ),
        (lambda: RNN(torch.zeros(B, T, 4)), ValueError, r"Recurrent expected 3 input features \(I\), got 4"),
        (lambda: RNN(torch.zeros(B, 0, I)), ValueError, r"empty sequence \(T = 0\); expected at least one time"),
        (lambda: RNN(X, lengths=torch.tensor([0, 5])), ValueError, r"lengths must lie in 1\.\.T = 1\.\.5, got min 0"),
        (lambda: RNN(X, lengths=torch.tensor([6, 5])), ValueError, r"lengths must lie in 1\.\.T = 1\.\.5, .*max 6"),
        (lambda: RNN(X, lengths=torch.tensor([[5, 5]])), ValueError, r"lengths must have shape \(B,\) = \(2,\), got"),
        (lambda: RNN(X, lengths=torch.tensor([5, 5, 5])), ValueError, r"lengths must have shape \(B,\) = \(2,\), got"),
        (lambda: RNN(X, lengths=torch.tensor([5.0, 5.0])), ValueError, r"lengths must be integers, got dtype .*float"),
        (lambda: RNN(X, lengths=torch.tensor([True, True])), ValueError, r"lengths must be integers, got .*bool"),
        (lambda: RNN(X, lengths="ab"), TypeError, r"lengths must be a \(B,\) tensor or sequence of integers, got str"),
        (
            lambda: RNN(X, mask=torch.tensor([[1, 0, 1, 0, 0], [1, 1, 1, 1, 1]])),
            ValueError,
            r"mask must be True on a prefix of each sequence \(padding only at the end\)",
        ),
        (lambda: RNN(X, mask=torch.ones(B, 4)), ValueError, r"mask must have shape \(B, T\) = \(2, 5\), got \(2, 4\)"),
        (lambda: RNN(X, mask=torch.zeros(B, T)), ValueError, r"lengths must lie in 1\.\.T"),
        (
            lambda: RNN(X, lengths=torch.tensor([5, 5]), mask=torch.ones(B, T)),
            ValueError,
            r"pass either lengths= or mask=, not both",
        ),
        (
            lambda: RNN(X, RNN.init_state(3)),
            ValueError,
            r"state of layer 0 \(forward\) has shapes \[\(3, 4\), \(3, 4\)\], expected \[\(2, 4\), \(2, 4\)\]",
        ),
        (
            lambda: RNN(X, RNN.init_state(B)[:1]),
            ValueError,
            r"state must be a tuple of 2 per-layer-and-direction states, as returned by Recurrent or init_state, "
            r"got 1",
        ),
        (lambda: RNN(X, torch.zeros(2, B, H)), ValueError, r"state must be a tuple of 2 .*got Tensor"),
        (lambda: RNN(X, (1, 2)), ValueError, r"state parts must be tensors or tuples of tensors, got int"),
        (
            lambda: Recurrent("gru", I, H, bidirectional=True)(X, (torch.zeros(B, H), torch.zeros(B, 3))),
            ValueError,
            r"state of layer 0 \(reverse\) has shapes \[\(2, 3\)\], expected \[\(2, 4\)\]",
        ),
        (
            lambda: Recurrent("gru", I, H, delays=(1, 2))(X, (torch.zeros(B, H),)),
            ValueError,
            r"state of layer 0 \(forward\) has shapes \[\(2, 4\)\], expected \[\(2, 4\), \(2, 2, 4\)\]",
        ),
    ],
)
def test_forward_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("rec", "teacher", "match"),
    [
        (
            RNN,
            torch.zeros(B, T, H),
            r"teacher forcing needs an output-recurrent cell \(e\.g\. 'jordan'\), not LSTMCell",
        ),
        (
            Recurrent("jordan", I, H, num_layers=2),
            torch.zeros(B, T, H),
            r"teacher forcing needs a single-layer, unidirectional Recurrent",
        ),
        (
            Recurrent("jordan", I, H, bidirectional=True),
            torch.zeros(B, T, H),
            r"teacher forcing needs a single-layer, unidirectional Recurrent",
        ),
        (
            Recurrent("jordan", I, H, output_size=2),
            torch.zeros(B, T - 1, 2),
            r"teacher must have shape \(B, T, O\) = \(2, 5, 2\), got \(2, 4, 2\)",
        ),
        (
            Recurrent("jordan", I, H, output_size=2),
            torch.zeros(B, T, H),
            r"teacher must have shape \(B, T, O\) = \(2, 5, 2\), got \(2, 5, 4\)",
        ),
    ],
)
def test_teacher_forcing_errors(rec, teacher, match):
    with pytest.raises(ValueError, match=match):
        rec(X, teacher=teacher)


def test_from_torch_needs_a_torch_rnn():
    with pytest.raises(TypeError, match=r"from_torch expects torch\.nn\.RNN, LSTM or GRU, got Linear"):
        Recurrent.from_torch(nn.Linear(I, H))


@pytest.mark.parametrize(
    "rec",
    [
        Recurrent("gru_before", I, H),
        Recurrent("elman", I, H, nonlinearity="sigmoid"),
        Recurrent("lstm", I, H, peephole=True),
        Recurrent("leaky", I, H),
        Recurrent("jordan", I, H),
        Recurrent("ln_lstm", I, H),
        Recurrent("lstm", I, H, delays=(1, 2)),
        Recurrent("lstm", I, H, bidirectional=True, merge="sum"),
        Recurrent("gru", I, H, num_layers=2, residual=True),
        Recurrent("gru", I, H, recurrent_dropout=0.1),
        Recurrent("gru", I, H, zoneout=0.1),
    ],
)
def test_to_torch_needs_standard_cells_and_no_extras(rec):
    with pytest.raises(ValueError, match=TO_TORCH_MSG):
        rec.to_torch()


def test_state_to_torch_with_delays():
    rec = Recurrent("lstm", I, H, delays=(1, 2))
    with pytest.raises(ValueError, match=r"state_to_torch needs a Recurrent without delays"):
        rec.state_to_torch(rec.init_state(B))


# --- state, mask and teacher of the wrong kind: one line each, on every path ------------------------------------
STATE_DTYPE_MSG = (
    r"^state of layer 0 \(forward\): expected state of dtype torch\.float32 \(the input's\), got torch\.float64$"
)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("lstm", {"backend": "fused"}),  # used to fail deep inside oneDNN: get_mkldnn_dtype: unsupported data type
        ("lstm", {"backend": "loop"}),
        ("gru_before", {}),  # the scan path
        ("elman", {"delays": (1, 2)}),  # a history part
    ],
)
def test_state_of_another_dtype(name, kw):
    rec = Recurrent(name, I, H, num_layers=2, **kw)
    with pytest.raises(ValueError, match=STATE_DTYPE_MSG):
        rec(X, rec.init_state(B, dtype=torch.float64))


def test_state_of_another_dtype_in_a_later_layer_or_direction():
    rec = Recurrent("lstm", I, H, num_layers=2, bidirectional=True)
    good = rec.init_state(B)
    bad = (*good[:3], (good[3][0], good[3][1].double()))
    with pytest.raises(ValueError, match=r"^state of layer 1 \(reverse\): expected state of dtype torch\.float32"):
        rec(X, bad)


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_state_on_another_device(backend):
    rec = Recurrent("lstm", I, H, backend=backend)
    with pytest.raises(
        ValueError, match=r"^state of layer 0 \(forward\): expected state on device cpu \(the input's\), got meta$"
    ):
        rec(X, rec.init_state(B, device="meta"))


def test_state_of_another_dtype_is_allowed_under_autocast():
    """autocast mixes dtypes on purpose: the check must not get in its way (it only reports what it finds)."""
    from unrolled.cells.base import state_mismatch

    half = torch.zeros(B, H, dtype=torch.bfloat16)
    assert state_mismatch([half], X) == "expected state of dtype torch.float32 (the input's), got torch.bfloat16"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert state_mismatch([half], X) is None
        assert state_mismatch([half.to("meta")], X) == "expected state on device cpu (the input's), got meta"


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        ("ab", TypeError, r"^mask must be a \(B, T\) boolean tensor or nested sequence of booleans, got str$"),
        (
            torch.tensor([[1.0, 0.5, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]]),
            ValueError,
            r"^mask must be boolean or hold only 0 and 1, got dtype torch\.float32 with other values$",
        ),
        (
            torch.tensor([[1, 2, 0, 0, 0], [1, 1, 1, 1, 1]]),
            ValueError,
            r"^mask must be boolean or hold only 0 and 1, got dtype torch\.int64 with other values$",
        ),
        ([[True, False]], ValueError, r"^mask must have shape \(B, T\) = \(2, 5\), got \(1, 2\)$"),
    ],
)
def test_mask_errors(mask, error, match):
    with pytest.raises(error, match=match):
        RNN(X, mask=mask)


JORDAN = Recurrent("jordan", I, H)


@pytest.mark.parametrize(
    ("rec", "teacher", "match"),
    [
        (JORDAN, [1], r"^teacher must be a tensor of shape \(B, T, O\) = \(2, 5, 4\), got list$"),
        (
            Recurrent("jordan", I, H, batch_first=False),
            [1],
            r"^teacher must be a tensor of shape \(T, B, O\) = \(5, 2, 4\), got list$",
        ),
        (
            JORDAN,
            torch.zeros(B, T, H, dtype=torch.float64),
            r"^expected teacher of dtype torch\.float32 \(the input's\), got torch\.float64$",
        ),
        (
            JORDAN,
            torch.zeros(B, T, H, device="meta"),
            r"^expected teacher on device cpu \(the input's\), got meta$",
        ),
    ],
)
def test_teacher_of_the_wrong_kind(rec, teacher, match):
    x = X if rec.batch_first else X.transpose(0, 1)
    with pytest.raises(ValueError, match=match):
        rec(x, teacher=teacher)


@pytest.mark.parametrize("cell", ["lstm", "gru", "ln_lstm", "jordan"])
def test_input_of_another_dtype_than_the_parameters(cell):
    rec = Recurrent(cell, I, H)
    want = r"^Recurrent expected input on cpu with dtype torch\.float32 \(the parameters'\), got cpu torch\.float64; "
    with pytest.raises(ValueError, match=want + r"move the input or the module \(\.to\)$"):
        rec(torch.randn(B, T, I, dtype=torch.float64))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast mixes dtypes on purpose
        rec(torch.randn(B, T, I))


def test_the_scan_backend_runs_under_autocast():
    """No longer an error: the scan path follows the autocast policy (tests/layers/test_recurrent_autocast.py)."""
    rec, x = Recurrent("ln_lstm", I, H, backend="scan"), torch.randn(B, T, I)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, _ = rec(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), rec(x)[0], atol=0.03, rtol=0.03)  # bfloat16 products, same function
