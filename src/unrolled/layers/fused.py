"""Torch's fused recurrent kernels (oneDNN on CPU, cuDNN on GPU) run on unrolled's own cell parameters.

The standard cells keep their parameters in torch.nn's layout and gate order, so a layer made of them can hand
the very same tensors to ``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh`` / ``torch.rnn_relu`` (the kernels
behind torch.nn.LSTM, GRU and RNN): no copy, same numbers as torch.nn. One call runs one layer in one or both
directions; the layer stack, inter-layer dropout and residual connections stay in Python around it. So that
cuDNN does not copy them into one buffer at every call, :class:`~unrolled.layers.Recurrent` keeps each such
layer's weights as views into one buffer in the kernel's order (:mod:`unrolled.layers.flat_weights`).

Which cell computes which torch mode is written once, in :data:`TORCH_TWINS`; the fused path, the conversion to
and from torch.nn (:mod:`unrolled.layers.convert`) and the error messages (:data:`STANDARD_CELLS`) all read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from unrolled.cells.base import RecurrentCell
from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.lstm import LSTMCell
from unrolled.layers.precision import autocast_policy


@dataclass(frozen=True)
class TorchTwin:
    """A cell configuration that one of torch's recurrent modes computes exactly, on the same parameters."""

    #: torch.nn.RNNBase's mode: "RNN_TANH", "RNN_RELU", "LSTM" or "GRU"
    mode: str
    #: the cell class, matched exactly: a subclass may override ``step``, so it is never assumed to be standard
    cell: type[RecurrentCell]
    #: cell attributes that must have these values; they are constructor arguments of ``cell`` too
    requires: Mapping[str, Any]
    #: the unrolled registry name of ``cell`` (what :func:`~unrolled.layers.convert.from_torch` builds)
    name: str
    #: how error messages describe this configuration: (cell, condition); conditions of one cell join with "/"
    label: tuple[str, str]
    #: the fused op behind torch.nn, e.g. ``torch.lstm``
    kernel: Callable
    #: the torch.nn module class
    module: type[nn.RNNBase]
    #: constructor arguments of ``module`` beyond the common ones, from a cell
    module_kwargs: Callable[[Any], dict[str, Any]]
    #: cell constructor arguments beyond ``requires``, from a torch.nn module
    cell_kwargs: Callable[[Any], dict[str, Any]]

    def matches(self, cell: RecurrentCell) -> bool:
        return type(cell) is self.cell and all(getattr(cell, k) == v for k, v in self.requires.items())


def _no_kwargs(_: Any) -> dict[str, Any]:
    return {}


TORCH_TWINS: tuple[TorchTwin, ...] = (
    TorchTwin(
        "RNN_TANH",
        ElmanCell,
        {"nonlinearity": "tanh"},
        "elman",
        ("elman", "tanh"),
        torch.rnn_tanh,
        nn.RNN,
        lambda cell: {"nonlinearity": "tanh"},
        _no_kwargs,
    ),
    TorchTwin(
        "RNN_RELU",
        ElmanCell,
        {"nonlinearity": "relu"},
        "elman",
        ("elman", "relu"),
        torch.rnn_relu,
        nn.RNN,
        lambda cell: {"nonlinearity": "relu"},
        _no_kwargs,
    ),
    TorchTwin(
        "LSTM",
        LSTMCell,
        {"peephole": False},
        "lstm",
        ("lstm", "without peepholes"),
        torch.lstm,
        nn.LSTM,
        lambda cell: {"proj_size": cell.proj_size},
        # torch's initialisation has no forget bias of 1; the copied weights replace it anyway
        lambda module: {"proj_size": module.proj_size, "forget_bias": None},
    ),
    TorchTwin(
        "GRU",
        GRUCell,
        {"reset": "after"},
        "gru",
        ("gru", "reset='after'"),
        torch.gru,
        nn.GRU,
        _no_kwargs,
        _no_kwargs,
    ),
)

#: torch mode -> its twin
TWIN_OF_MODE: dict[str, TorchTwin] = {t.mode: t for t in TORCH_TWINS}


def _describe(twins: Sequence[TorchTwin]) -> str:
    groups: dict[str, list[str]] = {}
    for t in twins:
        groups.setdefault(t.label[0], []).append(t.label[1])
    return ", ".join(f"{cell} {'/'.join(conditions)}" for cell, conditions in groups.items())


#: the standard cells in words, for error messages: "elman tanh/relu, lstm without peepholes, gru reset='after'"
STANDARD_CELLS: str = _describe(TORCH_TWINS)


def torch_twin(cell: RecurrentCell) -> TorchTwin | None:
    """The torch mode that computes exactly this cell, or None."""
    for twin in TORCH_TWINS:
        if twin.matches(cell):
            return twin
    return None


def common_twin(cells: Sequence[RecurrentCell]) -> TorchTwin | None:
    """The torch mode shared by all ``cells`` when one torch module / kernel call can hold them all: the same
    mode, all with or all without biases, the same projection size. None otherwise."""
    twin = torch_twin(cells[0])
    if twin is None:
        return None
    first = cells[0]
    for c in cells:
        if (
            torch_twin(c) is not twin
            or (c.bias_ih is None) != (first.bias_ih is None)
            or getattr(c, "proj_size", 0) != getattr(first, "proj_size", 0)
        ):
            return None
    return twin


def fusable(cells: Sequence[RecurrentCell]) -> bool:
    """True when all cells (the directions of one layer) can run in one fused call."""
    return common_twin(cells) is not None


def _params(cell: RecurrentCell) -> list[Tensor]:
    ps = [cell.weight_ih, cell.weight_hh]
    if cell.bias_ih is not None:
        ps += [cell.bias_ih, cell.bias_hh]
    if getattr(cell, "weight_hr", None) is not None:
        ps.append(cell.weight_hr)
    return ps


def kernel_weights(cells: Sequence[RecurrentCell]) -> list[Tensor]:
    """The tensors torch's kernel reads for one layer, in torch.nn.RNNBase's order: per direction ``weight_ih``,
    ``weight_hh``, ``bias_ih``, ``bias_hh`` (with biases), ``weight_hr`` (with an LSTM projection)."""
    return [p for c in cells for p in _params(c)]


def run_fused(
    cells: Sequence[RecurrentCell],
    x: Tensor,
    states: Sequence,
    lengths: Tensor | None,
    training: bool,
    weights: Sequence[Tensor] | None = None,
) -> tuple[Tensor, list]:
    """One layer, one or two directions: x (T, B, I) -> outputs (T, B, D*O), final states per direction.
    ``weights``: :func:`kernel_weights` of ``cells`` when the caller has them already.

    Under ``torch.autocast`` the kernel runs in the parameters' dtype with autocast off (torch's own autocast
    wrapper of cuDNN's RNN would cast to float16 whatever the autocast dtype) and the outputs are returned in the
    autocast dtype, the final states in the parameters' (:mod:`unrolled.layers.precision`)."""
    twin = common_twin(cells)
    if twin is None:
        raise ValueError(f"run_fused needs standard cells ({STANDARD_CELLS}) of one kind and options")
    params = list(weights) if weights is not None else kernel_weights(cells)
    policy = autocast_policy(x.device.type, params[0].dtype)
    if policy is None:
        return _run_kernel(twin, cells, x, states, lengths, training, params)
    with policy.recurrence():
        x, states = policy.to_compute(x), policy.to_compute(list(states))
        out, finals = _run_kernel(twin, cells, x, states, lengths, training, params)
    return policy.to_output(out), finals


def _run_kernel(
    twin: TorchTwin,
    cells: Sequence[RecurrentCell],
    x: Tensor,
    states: Sequence,
    lengths: Tensor | None,
    training: bool,
    params: list[Tensor],
) -> tuple[Tensor, list]:
    """:func:`run_fused` in the dtype of its arguments."""
    kernel = twin.kernel
    is_lstm = twin.mode == "LSTM"  # the one mode with a second state tensor c
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
