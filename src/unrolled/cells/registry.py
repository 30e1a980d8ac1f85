"""Cells by name, resolved once when a layer is built."""

from __future__ import annotations

from typing import Any

from unrolled.cells.base import RecurrentCell
from unrolled.cells.bn_lstm import BatchNormLSTMCell
from unrolled.cells.clockwork import ClockworkCell
from unrolled.cells.deep_transition import DeepTransitionCell
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.jordan import JordanCell
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.cells.leaky import LeakyCell
from unrolled.cells.lstm import LSTMCell

CELLS: dict[str, tuple[type[RecurrentCell], dict[str, Any]]] = {
    "elman": (ElmanCell, {}),
    "rnn": (ElmanCell, {}),
    "rnn_tanh": (ElmanCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (ElmanCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, {}),
    "gru": (GRUCell, {}),
    "gru_before": (GRUCell, {"reset": "before"}),
    "leaky": (LeakyCell, {}),
    "jordan": (JordanCell, {}),
    "ln_lstm": (LayerNormLSTMCell, {}),
    "ln_gru": (LayerNormGRUCell, {}),
    "bn_lstm": (BatchNormLSTMCell, {}),
    "deep_transition": (DeepTransitionCell, {}),
    "clockwork": (ClockworkCell, {}),
}


def make_cell(name: str, input_size: int, hidden_size: int, **kwargs: Any) -> RecurrentCell:
    """Build a cell by registry name, e.g. ``make_cell("gru", 8, 16, reset="before")``."""
    try:
        cls, defaults = CELLS[name]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; expected one of {sorted(CELLS)}") from None
    try:
        return cls(input_size=input_size, hidden_size=hidden_size, **{**defaults, **kwargs})
    except TypeError as e:
        raise TypeError(f"cell {name!r}: {e}") from None
