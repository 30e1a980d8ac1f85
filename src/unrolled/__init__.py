"""unrolled: recurrent neural networks and sequence modeling on PyTorch.

The main entry points: :class:`Recurrent` (any cell, stacked, bidirectional, variable lengths, carried state),
the cells in :mod:`unrolled.cells`, the NumPy BPTT reference in :mod:`unrolled.reference`, the trainer in
:mod:`unrolled.train` and the tasks in :mod:`unrolled.tasks`.

The names below are imported on first use (PEP 562), so that ``import unrolled`` (and the command line's start,
which a Ctrl-C may interrupt) does not load PyTorch before it is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "ElmanCell": "unrolled.cells",
    "GRUCell": "unrolled.cells",
    "JordanCell": "unrolled.cells",
    "LSTMCell": "unrolled.cells",
    "LayerNormGRUCell": "unrolled.cells",
    "LayerNormLSTMCell": "unrolled.cells",
    "LeakyCell": "unrolled.cells",
    "RecurrentCell": "unrolled.cells",
    "make_cell": "unrolled.cells",
    "Recurrent": "unrolled.layers",
    "detach_state": "unrolled.state",
    "map_state": "unrolled.state",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'unrolled' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
