"""Recurrent cells: one time step each, all following the contract in :mod:`unrolled.cells.base`."""

from unrolled.cells.base import RecurrentCell, State, replace_hidden, state_hidden
from unrolled.cells.bn_lstm import BatchNormLSTMCell
from unrolled.cells.clockwork import ClockworkCell
from unrolled.cells.deep_transition import DeepTransitionCell
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.jordan import JordanCell
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.cells.leaky import LeakyCell
from unrolled.cells.lstm import LSTMCell
from unrolled.cells.registry import CELLS, make_cell

__all__ = [
    "CELLS",
    "BatchNormLSTMCell",
    "ClockworkCell",
    "DeepTransitionCell",
    "ElmanCell",
    "GRUCell",
    "JordanCell",
    "LSTMCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LeakyCell",
    "RecurrentCell",
    "State",
    "make_cell",
    "replace_hidden",
    "state_hidden",
]
