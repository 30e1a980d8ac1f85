"""``Bridge``: the encoder's final states -> the decoder's initial states, when their sizes or directions differ."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Bridge", "state_parts"]


def state_parts(state: object) -> list[Tensor]:
    """The tensors of one cell state in order (h, or h and c for an LSTM)."""
    if isinstance(state, Tensor):
        return [state]
    return [t for s in state for t in state_parts(s)]  # type: ignore[union-attr]


class Bridge(nn.Module):
    r"""Maps the encoder's final states to the decoder's initial states.

    For decoder layer :math:`l` (encoder layer :math:`\min(l, L_e - 1)`) and each state part :math:`p`
    (:math:`h`, and :math:`c` for an LSTM), the directions' final parts are concatenated and projected:

    .. math::
        s^{dec}_{l,p} = \tanh\!\big(W_{l,p}\,[\overrightarrow{s}_{l,p}; \overleftarrow{s}_{l,p}] + b_{l,p}\big)

    as Bahdanau et al. (2015, appendix A.2.2) initialise the decoder from the encoder
    (:math:`s_0 = \tanh(W_s \overleftarrow{h}_1)`); the tanh is dropped for the LSTM memory :math:`c`, which is
    not bounded. Without a bridge (``identity=True``: same sizes, one direction, as many layers) states pass as is.

    Args:
        enc_parts: sizes of the encoder state parts (e.g. ``(H_e, H_e)`` for an LSTM).
        dec_parts: sizes of the decoder state parts.
        enc_layers, dec_layers: L_e, L_d. directions: D of the encoder.

    Shape:
        - input: the encoder's final state, L_e·D cell states, parts (B, H_e).
        - output: L_d cell states, parts (B, H_d).

    Example::

        >>> bridge = Bridge((32, 32), (64, 64), enc_layers=1, dec_layers=2, directions=2)
        >>> states = bridge(tuple((torch.zeros(4, 32), torch.zeros(4, 32)) for _ in range(2)))
        >>> len(states), states[1][0].shape
        (2, torch.Size([4, 64]))
    """

    def __init__(
        self,
        enc_parts: tuple[int, ...],
        dec_parts: tuple[int, ...],
        enc_layers: int,
        dec_layers: int,
        directions: int,
    ):
        super().__init__()
        self.enc_layers, self.dec_layers, self.directions = enc_layers, dec_layers, directions
        self.dec_parts = tuple(dec_parts)
        self.identity = directions == 1 and enc_layers == dec_layers and tuple(enc_parts) == tuple(dec_parts)
        n = min(len(enc_parts), len(dec_parts))
        self.proj = nn.ModuleList()
        if not self.identity:
            for _ in range(dec_layers):
                self.proj.append(nn.ModuleList(nn.Linear(directions * enc_parts[p], dec_parts[p]) for p in range(n)))

    def forward(self, enc_state: tuple) -> tuple:
        if self.identity:
            return tuple(enc_state)
        D = self.directions
        out = []
        for layer in range(self.dec_layers):
            src = min(layer, self.enc_layers - 1)
            parts = [state_parts(s) for s in enc_state[src * D : (src + 1) * D]]
            new = []
            for p, size in enumerate(self.dec_parts):
                if p < len(self.proj[layer]):
                    x = torch.cat([d[p] for d in parts], dim=-1)  # (B, D*H_e)
                    y = self.proj[layer][p](x)  # (B, H_d)
                    new.append(torch.tanh(y) if p == 0 else y)
                else:
                    new.append(parts[0][0].new_zeros(parts[0][0].shape[0], size))
            out.append(new[0] if len(new) == 1 else tuple(new))
        return tuple(out)
