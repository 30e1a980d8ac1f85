r"""Multi-directional two-dimensional RNN for images (Graves, Fernández & Schmidhuber 2007, "Multi-dimensional
recurrent neural networks"; Goodfellow et al., *Deep Learning* §10.3 on 2-D recurrences).

One *sweep* visits the pixels from the top-left corner; each hidden state reads the pixel and the states above
and to the left:

.. math::
    h_{i,j} = \phi\big(W x_{i,j} + U^{\uparrow} h_{i-1,j} + U^{\leftarrow} h_{i,j-1} + b\big),
    \qquad h_{-1,j} = h_{i,-1} = 0

Four sweeps, one from each corner (each with its own parameters), see the whole image from every pixel
(Graves et al. 2007 §3.1); a sweep from another corner is the top-left sweep of the flipped image, flipped
back. The sweep runs by anti-diagonals (all pixels with :math:`i + j = d` are independent given diagonal
:math:`d - 1`), so an R×C image costs R + C - 1 batched steps, not R·C.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from unrolled.cells.activations import HIDDEN_ACTIVATIONS, get_activation
from unrolled.cells.base import check_positive

__all__ = ["CORNERS", "MultiDirectional2dRNN", "Sweep2d"]

#: corner -> the image dimensions (rows 1, columns 2 of (B, R, C, ·)) to flip so that the sweep starts there
CORNERS: dict[str, tuple[int, ...]] = {
    "top_left": (),
    "top_right": (2,),
    "bottom_left": (1,),
    "bottom_right": (1, 2),
}

_COMBINE: dict[str, Callable[[list[Tensor]], Tensor]] = {
    "concat": lambda ys: torch.cat(ys, dim=-1),
    "sum": lambda ys: torch.stack(ys).sum(0),
    "mean": lambda ys: torch.stack(ys).mean(0),
}


class Sweep2d(nn.Module):
    r"""One top-left-to-bottom-right 2-D recurrence (see the module docstring for the equation).

    Parameters: :math:`W` = ``weight_ih`` (H, I), :math:`U^{\uparrow}` = ``weight_up`` (H, H),
    :math:`U^{\leftarrow}` = ``weight_left`` (H, H), :math:`b` = ``bias`` (H); all ~ U(-1/sqrt(H), 1/sqrt(H)).

    Args:
        input_size: I, features per pixel.
        hidden_size: H.
        nonlinearity: :math:`\phi`, ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``.

    Shape:
        R rows, C columns. input (B, R, C, I) -> output (B, R, C, H).

    Example::

        >>> sweep = Sweep2d(1, 8)
        >>> sweep(torch.randn(2, 8, 8, 1)).shape
        torch.Size([2, 8, 8, 8])
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        self.phi = get_activation(nonlinearity, HIDDEN_ACTIVATIONS)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))  # W
        self.weight_up = nn.Parameter(torch.empty(hidden_size, hidden_size))  # U^up
        self.weight_left = nn.Parameter(torch.empty(hidden_size, hidden_size))  # U^left
        self.bias = nn.Parameter(torch.empty(hidden_size))  # b
        k = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[-1] != self.input_size:
            raise ValueError(f"Sweep2d: expected input of shape (B, R, C, {self.input_size}), got {tuple(x.shape)}")
        B, R, C, _ = x.shape
        H = self.hidden_size
        xp = torch.nn.functional.linear(x, self.weight_ih, self.bias)  # W x + b: (B, R, C, H)
        rows = torch.arange(R, device=x.device)  # (R,)
        prev = xp.new_zeros(B, R, H)  # diagonal d - 1, indexed by row
        zero_row = xp.new_zeros(B, 1, H)
        diags = []
        for d in range(R + C - 1):
            cols = d - rows  # (R,): column of each row's pixel on diagonal d
            valid = ((cols >= 0) & (cols < C)).to(xp.dtype)[None, :, None]  # (1, R, 1)
            x_d = xp[:, rows, cols.clamp(0, C - 1)]  # (B, R, H)
            up = torch.cat([zero_row, prev[:, :-1]], dim=1)  # h_{i-1,j}: diagonal d-1, row i-1: (B, R, H)
            a = x_d + up @ self.weight_up.t() + prev @ self.weight_left.t()  # h_{i,j-1}: diagonal d-1, row i
            prev = self.phi(a) * valid  # (B, R, H), zero off the image
            diags.append(prev)
        grid = torch.stack(diags, dim=1)  # (B, R + C - 1, R, H)
        d_of = rows[:, None] + torch.arange(C, device=x.device)[None, :]  # (R, C): diagonal of pixel (i, j)
        return grid[:, d_of, rows[:, None].expand(R, C)]  # (B, R, C, H)


class MultiDirectional2dRNN(nn.Module):
    r"""Multi-directional 2-D RNN: one :class:`Sweep2d` per corner (own parameters), outputs combined per pixel.

    .. math::
        y_{i,j} = \mathrm{combine}\big(h^{\searrow}_{i,j}, h^{\swarrow}_{i,j}, h^{\nearrow}_{i,j},
        h^{\nwarrow}_{i,j}\big)

    The sweep from corner ``c`` is ``flip(sweep_c(flip(x)))`` with the flips of :data:`CORNERS`.

    Args:
        input_size: I.
        hidden_size: H, units of each sweep.
        corners: which sweeps (default all four, in :data:`CORNERS` order).
        combine: ``"concat"`` (default), ``"sum"`` or ``"mean"``.
        nonlinearity: :math:`\phi` of every sweep.

    Shape:
        D sweeps. input (B, R, C, I) -> output (B, R, C, D·H) with concat, else (B, R, C, H).

    Example::

        >>> rnn = MultiDirectional2dRNN(1, 8)
        >>> rnn(torch.randn(2, 8, 8, 1)).shape
        torch.Size([2, 8, 8, 32])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        corners: tuple[str, ...] = tuple(CORNERS),
        combine: str = "concat",
        nonlinearity: str = "tanh",
    ):
        super().__init__()
        bad = [c for c in corners if c not in CORNERS]
        if not corners or bad or len(set(corners)) != len(corners):
            raise ValueError(f"corners: expected distinct names from {list(CORNERS)}, got {corners!r}")
        if combine not in _COMBINE:
            raise ValueError(f"combine: expected one of {sorted(_COMBINE)}, got {combine!r}")
        self.corners, self.combine = tuple(corners), combine
        self._combine = _COMBINE[combine]
        self._flips = [CORNERS[c] for c in self.corners]
        self.sweeps = nn.ModuleList(Sweep2d(input_size, hidden_size, nonlinearity) for _ in self.corners)
        self.output_size = hidden_size * (len(self.corners) if combine == "concat" else 1)

    def forward(self, x: Tensor) -> Tensor:
        outs = []
        for sweep, dims in zip(self.sweeps, self._flips):
            y = sweep(x.flip(dims) if dims else x)  # (B, R, C, H)
            outs.append(y.flip(dims) if dims else y)
        return self._combine(outs)  # (B, R, C, D·H) or (B, R, C, H)
