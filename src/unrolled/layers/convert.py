"""Exact conversion between ``Recurrent`` and torch.nn.RNN / LSTM / GRU."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.lstm import LSTMCell

_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")


def from_torch(cls, module: nn.Module, **kwargs: Any):
    if isinstance(module, nn.LSTM):
        cell, extra = "lstm", {"proj_size": module.proj_size, "forget_bias": None}
    elif isinstance(module, nn.GRU):
        cell, extra = "gru", {"reset": "after"}
    elif isinstance(module, nn.RNN):
        cell, extra = "elman", {"nonlinearity": module.nonlinearity}
    else:
        raise TypeError(f"from_torch expects torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    rec = cls(
        cell,
        module.input_size,
        module.hidden_size,
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        batch_first=module.batch_first,
        dropout=module.dropout,
        bias=module.bias,
        **extra,
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
    first = rec.cells[0]
    kinds = {type(c) for c in rec.cells}
    custom = rec.extra_delays or rec.recurrent_dropout or rec.zoneout or rec.residual or rec.merge != "concat"
    ok = (
        len(kinds) == 1
        and not custom
        and (
            (isinstance(first, LSTMCell) and not first.peephole)
            or (isinstance(first, GRUCell) and first.reset == "after")
            or (isinstance(first, ElmanCell) and first.nonlinearity in ("tanh", "relu"))
        )
    )
    if not ok:
        raise ValueError(
            "to_torch needs standard cells (elman tanh/relu, lstm without peepholes, gru reset='after'), "
            "merge='concat' and no delays, residual, recurrent dropout or zoneout"
        )
    common = dict(
        input_size=rec.input_size,
        hidden_size=rec.hidden_size,
        num_layers=rec.num_layers,
        bias=first.bias_ih is not None,
        batch_first=rec.batch_first,
        dropout=rec.dropout,
        bidirectional=rec.bidirectional,
    )
    if isinstance(first, LSTMCell):
        module = nn.LSTM(**common, proj_size=first.proj_size)
    elif isinstance(first, GRUCell):
        module = nn.GRU(**common)
    else:
        module = nn.RNN(**common, nonlinearity=first.nonlinearity)
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
