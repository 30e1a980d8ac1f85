"""Torch's fused recurrent kernels (oneDNN on CPU, cuDNN on GPU) run on unrolled's own cell parameters.

The standard cells keep their parameters in torch.nn's layout and gate order, so a layer made of them can hand
the very same tensors to ``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh`` / ``torch.rnn_relu`` (the kernels
behind torch.nn.LSTM, GRU and RNN): no copy, same numbers as torch.nn. One call runs one layer in one or both
directions; the layer stack, inter-layer dropout and residual connections stay in Python around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from unrolled.cells.base import RecurrentCell
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.lstm import LSTMCell


def _kernel(cell: RecurrentCell) -> Callable | None:
    """The fused op that computes exactly this cell, or None."""
    kind = type(cell)
    if kind is LSTMCell and not cell.peephole:
        return torch.lstm
    if kind is GRUCell and cell.reset == "after":
        return torch.gru
    if kind is ElmanCell and cell.nonlinearity in ("tanh", "relu"):
        return torch.rnn_tanh if cell.nonlinearity == "tanh" else torch.rnn_relu
    return None


def fusable(cells: Sequence[RecurrentCell]) -> bool:
    """True when all cells (the directions of one layer) can run in one fused call."""
    kernels = [_kernel(c) for c in cells]
    if kernels[0] is None or any(k is not kernels[0] for k in kernels):
        return False
    first = cells[0]
    return all(
        (c.bias_ih is None) == (first.bias_ih is None) and getattr(c, "proj_size", 0) == getattr(first, "proj_size", 0)
        for c in cells
    )


def _params(cell: RecurrentCell) -> list[Tensor]:
    ps = [cell.weight_ih, cell.weight_hh]
    if cell.bias_ih is not None:
        ps += [cell.bias_ih, cell.bias_hh]
    if getattr(cell, "weight_hr", None) is not None:
        ps.append(cell.weight_hr)
    return ps


def run_fused(
    cells: Sequence[RecurrentCell],
    x: Tensor,
    states: Sequence,
    lengths: Tensor | None,
    training: bool,
) -> tuple[Tensor, list]:
    """One layer, one or two directions: x (T, B, I) -> outputs (T, B, D*O), final states per direction."""
    kernel = _kernel(cells[0])
    is_lstm = kernel is torch.lstm
    params = [p for c in cells for p in _params(c)]
    has_bias = cells[0].bias_ih is not None
    bidir = len(cells) == 2
    if is_lstm:
        hx = (
            torch.stack([s[0] for s in states]),
            torch.stack([s[1] for s in states]),
        )  # (D, B, P), (D, B, H)
    else:
        hx = torch.stack(list(states))  # (D, B, H)
    if lengths is None:
        res = kernel(x, hx, params, has_bias, 1, 0.0, training, bidir, False)
        out = res[0]  # (T, B, D*O)
        finals = res[1:]
    else:
        T = x.shape[0]
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        order = packed.sorted_indices
        hx = tuple(h.index_select(1, order) for h in hx) if is_lstm else hx.index_select(1, order)
        res = kernel(packed.data, packed.batch_sizes, hx, params, has_bias, 1, 0.0, training, bidir)
        out_packed = PackedSequence(res[0], packed.batch_sizes, order, packed.unsorted_indices)
        out, _ = pad_packed_sequence(out_packed, total_length=T)  # (T, B, D*O)
        finals = tuple(h.index_select(1, packed.unsorted_indices) for h in res[1:])
    if is_lstm:
        h_n, c_n = finals  # (D, B, P), (D, B, H)
        new_states = [(h_n[d], c_n[d]) for d in range(len(cells))]
    else:
        new_states = list(finals[0].unbind(0))
    return out, new_states
