"""Every error a cell raises: one line, saying what was expected."""

import pytest
import torch

from unrolled.cells import (
    ElmanCell,
    GRUCell,
    JordanCell,
    LayerNormGRUCell,
    LeakyCell,
    LSTMCell,
    make_cell,
)

HIDDEN_MSG = r"^unknown nonlinearity {}; expected one of \['relu', 'sigmoid', 'tanh'\]$"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ElmanCell(0, 4), r"input_size must be a positive integer, got 0"),
        (lambda: ElmanCell(3, -1), r"hidden_size must be a positive integer, got -1"),
        (lambda: ElmanCell(3, 2.0), r"hidden_size must be a positive integer, got 2\.0"),
        (lambda: GRUCell(True, 4), r"input_size must be a positive integer, got True"),
        (
            lambda: ElmanCell(3, 4, nonlinearity="gelu"),
            r"^unknown nonlinearity 'gelu'; expected one of \['relu', 'sigmoid', 'tanh'\]$",
        ),
        (lambda: GRUCell(3, 4, reset="middle"), r"reset must be one of \('after', 'before'\), got 'middle'"),
        (lambda: LayerNormGRUCell(3, 4, reset="x"), r"reset must be one of .*got 'x'"),
        (lambda: LSTMCell(3, 4, proj_size=4), r"proj_size must be an integer in \[0, hidden_size=4\), got 4"),
        (lambda: LSTMCell(3, 4, proj_size=-1), r"proj_size must be an integer in \[0, hidden_size=4\), got -1"),
        (lambda: LSTMCell(3, 4, proj_size=1.5), r"proj_size must be an integer .*got 1\.5"),
        (lambda: LSTMCell(3, 4, proj_size=True), r"proj_size must be an integer .*got True"),
        (lambda: LeakyCell(3, 4, tau=0.5), r"every tau must be finite and >= 1 .*got 0\.5"),
        (lambda: LeakyCell(3, 4, tau=[1.0, 2.0, 0.9, 3.0]), r"every tau must be finite and >= 1 .*got 0\.9"),
        (lambda: LeakyCell(3, 4, tau=float("nan")), r"every tau must be finite and >= 1 .*got nan"),
        (lambda: LeakyCell(3, 4, tau=float("inf")), r"every tau must be finite and >= 1 .*got inf"),
        (lambda: LeakyCell(3, 4, tau=[1.0, 2.0]), r"tau must be one float or 4 floats \(one per unit\), got 2"),
        (lambda: LeakyCell(3, 4, tau_range=(0.5, 2.0)), r"tau_range must satisfy 1 <= low <= high"),
        (lambda: LeakyCell(3, 4, tau_range=(5.0, 2.0)), r"tau_range must satisfy 1 <= low <= high"),
        (lambda: LeakyCell(3, 4, tau_range=(1.0, float("inf"))), r"tau_range must satisfy 1 <= low <= high"),
        (lambda: LeakyCell(3, 4, tau_range=5.0), r"tau_range must be a pair \(low, high\), got 5\.0"),
        (lambda: LeakyCell(3, 4, nonlinearity="swish"), r"unknown nonlinearity 'swish'; expected one of"),
        (lambda: JordanCell(3, 4, output_size=0), r"output_size must be a positive integer, got 0"),
        (lambda: JordanCell(3, 4, output_nonlinearity="softmax"), r"unknown nonlinearity 'softmax'"),
        (lambda: make_cell("transformer", 3, 4), r"unknown cell 'transformer'; expected one of \["),
        (
            lambda: LeakyCell(3, 4, tau=3.0, tau_range=(1.0, 2.0)),
            r"^pass either tau= \(fixed time constants\) or tau_range= \(sampled ones\), not both$",
        ),
        # the hidden units take the registry's HIDDEN_ACTIVATIONS, the same three names for every cell
        (lambda: ElmanCell(3, 4, nonlinearity="identity"), HIDDEN_MSG.format("'identity'")),
        (lambda: LeakyCell(3, 4, nonlinearity="identity"), HIDDEN_MSG.format("'identity'")),
        (lambda: JordanCell(3, 4, nonlinearity="identity"), HIDDEN_MSG.format("'identity'")),
        (lambda: ElmanCell(3, 4, nonlinearity=None), HIDDEN_MSG.format("None")),
        (lambda: LeakyCell(3, 4, nonlinearity="swish"), HIDDEN_MSG.format("'swish'")),
        (
            lambda: JordanCell(3, 4, output_nonlinearity="softmax"),
            r"^output_nonlinearity: unknown nonlinearity 'softmax'; "
            r"expected one of \['identity', 'relu', 'sigmoid', 'tanh'\]$",
        ),
    ],
)
def test_constructor_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_leaky_tau_default_is_two_and_tau_range_alone_samples():
    torch.testing.assert_close(LeakyCell(3, 4).tau, torch.full((4,), 2.0), rtol=0, atol=0)
    torch.manual_seed(0)
    sampled = LeakyCell(3, 50, tau_range=(3.0, 7.0)).tau
    assert float(sampled.min()) >= 3.0 and float(sampled.max()) <= 7.0 and float(sampled.std()) > 0.5
    # a spawned copy (another layer) keeps the choice: sampled again, not the default 2
    assert float(LeakyCell(3, 50, tau_range=(3.0, 7.0)).spawn(5).tau.min()) >= 3.0


def test_jordan_identity_output_is_accepted():
    cell = JordanCell(3, 4, output_size=2)
    h = torch.tanh(cell.project_input(torch.ones(1, 3)))
    torch.testing.assert_close(cell(torch.ones(1, 3))[0], cell.bias_ho + h @ cell.weight_ho.T)


def test_unknown_keyword_names_the_cell():
    with pytest.raises(TypeError, match=r"cell 'gru': .*unexpected keyword argument 'peephole'"):
        make_cell("gru", 3, 4, peephole=True)


@pytest.mark.parametrize(
    ("cell", "x", "match"),
    [
        (ElmanCell(3, 4), torch.zeros(2, 5), r"ElmanCell: expected input of shape \(B, 3\), got \(2, 5\)"),
        (GRUCell(3, 4), torch.zeros(2, 1, 3), r"GRUCell: expected input of shape \(B, 3\), got \(2, 1, 3\)"),
        (LSTMCell(3, 4), torch.zeros(3), r"LSTMCell: expected input of shape \(B, 3\), got \(3,\)"),
    ],
)
def test_wrong_input_shape(cell, x, match):
    with pytest.raises(ValueError, match=match):
        cell(x)


@pytest.mark.parametrize(
    ("cell", "state", "match"),
    [
        (ElmanCell(3, 4), torch.zeros(2, 5), r"ElmanCell: expected state as a tensor of shapes \[\(2, 4\)\], got"),
        (GRUCell(3, 4), torch.zeros(3, 4), r"GRUCell: expected state .*\[\(2, 4\)\], got \[\(3, 4\)\]"),
        (LSTMCell(3, 4), (torch.zeros(2, 4),), r"LSTMCell: expected state as a tuple of 2 tensors"),
        (LSTMCell(3, 4), torch.zeros(2, 4), r"LSTMCell: expected state as a tuple of 2 tensors"),
        (
            LSTMCell(3, 4, proj_size=2),
            (torch.zeros(2, 4), torch.zeros(2, 4)),
            r"expected state .*\[\(2, 2\), \(2, 4\)\], got \[\(2, 4\), \(2, 4\)\]",
        ),
        (ElmanCell(3, 4), [1.0], r"ElmanCell: expected state as a tensor .*got list"),
        (
            ElmanCell(3, 4),
            torch.zeros(2, 4, dtype=torch.float64),
            r"^ElmanCell: expected state of dtype torch\.float32 \(the input's\), got torch\.float64$",
        ),
        (
            LSTMCell(3, 4),
            (torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.float16)),
            r"^LSTMCell: expected state of dtype torch\.float32 \(the input's\), got torch\.float16$",
        ),
        (
            GRUCell(3, 4),
            torch.zeros(2, 4, device="meta"),
            r"^GRUCell: expected state on device cpu \(the input's\), got meta$",
        ),
    ],
)
def test_wrong_state(cell, state, match):
    with pytest.raises(ValueError, match=match):
        cell(torch.zeros(2, 3), state)


def test_teacher_forcing_on_a_cell_without_output_recurrence():
    cell = GRUCell(3, 4)
    with pytest.raises(TypeError, match=r"GRUCell has no output recurrence; teacher forcing needs e\.g\. JordanCell"):
        cell.force(cell.init_state(2), torch.zeros(2, 4))


def test_jordan_force_with_wrong_shape():
    cell = JordanCell(3, 4, output_size=2)
    with pytest.raises(ValueError, match=r"teacher-forced value must have shape \(2, 2\) \(B, O\), got \(2, 4\)"):
        cell.force(cell.init_state(2), torch.zeros(2, 4))
