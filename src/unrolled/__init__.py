"""unrolled: recurrent neural networks and sequence modeling on PyTorch.

The main entry points: :class:`Recurrent` (any cell, stacked, bidirectional, variable lengths, carried state),
the cells in :mod:`unrolled.cells`, the NumPy BPTT reference in :mod:`unrolled.reference`, the trainer in
:mod:`unrolled.train` and the tasks in :mod:`unrolled.tasks`.
"""

__version__ = "0.1.0"

from unrolled.cells import (  # noqa: E402
    ElmanCell,
    GRUCell,
    JordanCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LeakyCell,
    LSTMCell,
    RecurrentCell,
    make_cell,
)
from unrolled.layers import Recurrent  # noqa: E402
from unrolled.state import detach_state, map_state  # noqa: E402

__all__ = [
    "ElmanCell",
    "GRUCell",
    "JordanCell",
    "LSTMCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LeakyCell",
    "Recurrent",
    "RecurrentCell",
    "__version__",
    "detach_state",
    "make_cell",
    "map_state",
]
