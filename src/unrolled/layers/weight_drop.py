r"""Weight drop: DropConnect on the hidden-to-hidden matrices of recurrent layers (Merity et al. 2018, sec. 4.1).

Each training forward pass draws one Bernoulli mask :math:`M` per recurrent matrix and runs the layer with

.. math::
    \tilde W_{hh} = \frac{M \odot W_{hh}}{1 - p}, \qquad M_{ij} \sim \mathrm{Bernoulli}(1 - p)

(Wan et al. 2013's DropConnect with inverted scaling). The mask is drawn once per call of the layer, so every time
step and every row of a batch sees the same dropped weights; the recurrence itself is untouched, which is why
torch's fused cuDNN/MKL kernel and the scan kernels still run: they read the masked matrix as the cell's
``weight_hh``. In evaluation (``module.eval()``) :math:`\tilde W_{hh} = W_{hh}`. The input-to-hidden matrices,
biases and every other parameter are never masked.

The trained parameter is renamed ``weight_hh_raw`` (as in the AWD-LSTM code); ``cell.weight_hh`` becomes a plain
tensor recomputed before each forward pass.

Example::

    >>> rnn = Recurrent("lstm", 8, 16, num_layers=2)
    >>> handle = weight_drop(rnn, 0.5)                 # rnn.cells[i].weight_hh_raw are the parameters now
    >>> y, state = rnn(torch.randn(4, 10, 8))          # one mask per matrix for this batch
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from unrolled.layers.recurrent import Recurrent

__all__ = ["RAW_SUFFIX", "WeightDrop", "weight_drop"]

#: suffix of the trained (unmasked) recurrent matrix
RAW_SUFFIX = "_raw"


def _set_plain(module: nn.Module, name: str, value: Tensor) -> None:
    """Set an attribute that is neither a parameter nor a buffer (``nn.Module.__setattr__`` would register a
    Parameter value as a second parameter)."""
    module.__dict__[name] = value


class WeightDrop:
    """Forward pre-hook of a :class:`~unrolled.layers.Recurrent` that masks each cell's ``weight_hh`` once per call.

    Args:
        recurrent: the layer; every cell must have a ``weight_hh`` parameter (LSTM, GRU, Elman, ...).
        p: probability of dropping a weight, in [0, 1).
        name: the matrix to drop (default ``weight_hh``).
    """

    def __init__(self, recurrent: Recurrent, p: float, name: str = "weight_hh") -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"weight_drop: expected p in [0, 1), got {p!r}")
        if not isinstance(recurrent, Recurrent):
            raise ValueError(f"weight_drop: expected a Recurrent layer, got {type(recurrent).__name__}")
        self.p, self.name = float(p), name
        self.cells = list(recurrent.cells)
        for cell in self.cells:
            weight = cell._parameters.get(name)
            if not isinstance(weight, nn.Parameter):
                raise ValueError(f"weight_drop: cell {type(cell).__name__} has no parameter {name!r} to drop")
            del cell._parameters[name]
            cell.register_parameter(name + RAW_SUFFIX, weight)
            _set_plain(cell, name, weight)  # a plain attribute now: what the cell and the kernels read
        self.masks: list[Tensor | None] = [None] * len(self.cells)

    def __call__(self, module: nn.Module, args: Any) -> None:
        for i, cell in enumerate(self.cells):
            raw = getattr(cell, self.name + RAW_SUFFIX)
            if module.training and self.p > 0:
                keep = torch.full_like(raw, 1.0 - self.p)
                mask = torch.bernoulli(keep).div_(1.0 - self.p)  # (rows, cols) of W_hh, 0 or 1/(1-p)
                self.masks[i] = mask
                _set_plain(cell, self.name, raw * mask)
            else:
                self.masks[i] = None
                _set_plain(cell, self.name, raw)


def weight_drop(recurrent: Recurrent, p: float, name: str = "weight_hh") -> RemovableHandle:
    """Apply :class:`WeightDrop` to ``recurrent`` (in place); returns the hook's handle. Initialise the layer
    before this call (initialisers look for ``weight_hh``)."""
    hook = WeightDrop(recurrent, p, name)
    recurrent._weight_drop = hook  # type: ignore[attr-defined]  # reachable for inspection (tests, masks)
    return recurrent.register_forward_pre_hook(hook)
