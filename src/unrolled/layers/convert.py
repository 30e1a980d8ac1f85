"""Exact conversion between ``Recurrent`` and torch.nn.RNN / LSTM / GRU, weights and states.

Which cell corresponds to which torch module is read from :data:`unrolled.layers.fused.TORCH_TWINS`, the table the
fused path uses too, so "convertible" and "runs torch's kernel" always mean the same cells.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from unrolled.layers.fused import STANDARD_CELLS, TWIN_OF_MODE, common_twin

_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")


def from_torch(cls, module: nn.Module, **kwargs: Any):
    """A ``cls`` (Recurrent) with the same configuration and an exact copy of ``module``'s weights."""
    if not isinstance(module, (nn.RNN, nn.LSTM, nn.GRU)):
        raise TypeError(f"from_torch expects torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    twin = TWIN_OF_MODE[module.mode]
    rec = cls(
        twin.name,
        module.input_size,
        module.hidden_size,
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        batch_first=module.batch_first,
        dropout=module.dropout,
        bias=module.bias,
        **twin.requires,
        **twin.cell_kwargs(module),
        **kwargs,
    )
    ref = next(module.parameters())
    rec.to(device=ref.device, dtype=ref.dtype)
    with torch.no_grad():
        for i, c in enumerate(rec.cells):
            layer, direction = divmod(i, rec.num_directions)
            for name in _NAMES:
                src = getattr(module, name + _suffix(layer, direction), None)
                if src is not None:
                    getattr(c, name).copy_(src)
    rec.train(module.training)
    return rec


def to_torch(rec) -> nn.Module:
    """The torch.nn.RNN / LSTM / GRU computing what ``rec`` computes, with a copy of its weights."""
    twin = common_twin(list(rec.cells))
    custom = rec.extra_delays or rec.recurrent_dropout or rec.zoneout or rec.residual or rec.merge != "concat"
    if twin is None or custom:
        raise ValueError(
            f"to_torch needs standard cells ({STANDARD_CELLS}), "
            "merge='concat' and no delays, residual, recurrent dropout or zoneout"
        )
    first = rec.cells[0]
    module = twin.module(
        input_size=rec.input_size,
        hidden_size=rec.hidden_size,
        num_layers=rec.num_layers,
        bias=first.bias_ih is not None,
        batch_first=rec.batch_first,
        dropout=rec.dropout,
        bidirectional=rec.bidirectional,
        **twin.module_kwargs(first),
    )
    ref = first.weight_ih
    module.to(device=ref.device, dtype=ref.dtype)
    with torch.no_grad():
        for i, c in enumerate(rec.cells):
            layer, direction = divmod(i, rec.num_directions)
            for name in _NAMES:
                dst = getattr(module, name + _suffix(layer, direction), None)
                if dst is not None:
                    dst.copy_(getattr(c, name))
    module.train(rec.training)
    return module


def state_to_torch(rec, state: tuple) -> Tensor | tuple[Tensor, ...]:
    """Stack a ``Recurrent`` state into torch.nn's layout: h_n (L*D, B, H), or (h_n, c_n) for LSTM cells."""
    if rec.extra_delays:
        raise ValueError("state_to_torch needs a Recurrent without delays: torch.nn has no place for the history")
    if isinstance(state[0], Tensor):
        return torch.stack(list(state))  # L*D x (B, H) -> (L*D, B, H)
    return tuple(torch.stack([s[k] for s in state]) for k in range(len(state[0])))


def state_from_torch(rec, hx: Tensor | tuple[Tensor, ...]) -> tuple:
    """The inverse of :func:`state_to_torch`: one state per layer and direction, in torch's order."""
    if isinstance(hx, Tensor):
        return tuple(hx.unbind(0))  # (L*D, B, H) -> L*D x (B, H)
    return tuple(zip(*(h.unbind(0) for h in hx)))
