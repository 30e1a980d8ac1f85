"""The gated recurrent unit, in both reset placements."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, check_positive


def _step_after(cell: GRUCell, xp_t: Tensor, h: Tensor, h_rec: Tensor) -> Tensor:
    r"""reset="after": :math:`n = \tanh(\mathrm{xp}_n + r \odot (W_{hn} h + b_{hn}))`. ``h_rec`` is the previous
    state as the recurrent product reads it (``h``, or ``h`` times a recurrent-dropout mask), ``h`` as the
    interpolation reads it."""
    H = cell.hidden_size
    x_rz, x_n = xp_t[:, : 2 * H], xp_t[:, 2 * H :]
    hp = h_rec @ cell.weight_hh.t()  # (B, H) -> (B, 3H)
    rz = torch.sigmoid(x_rz + hp[:, : 2 * H])  # (B, 2H)
    r, z = rz.chunk(2, 1)  # each (B, H)
    hn = hp[:, 2 * H :] if cell.bias_hh is None else hp[:, 2 * H :] + cell.bias_hh[2 * H :]
    n = torch.tanh(x_n + r * hn)
    return torch.lerp(n, h, z)  # (1 - z) n + z h


def _step_before(cell: GRUCell, xp_t: Tensor, h: Tensor, h_rec: Tensor) -> Tensor:
    r"""reset="before": :math:`n = \tanh(\mathrm{xp}_n + W_{hn} (r \odot h) + b_{hn})`, a second product that
    depends on the first. ``h_rec`` and ``h`` as in :func:`_step_after`."""
    H = cell.hidden_size
    x_rz, x_n = xp_t[:, : 2 * H], xp_t[:, 2 * H :]
    rz = torch.sigmoid(torch.addmm(x_rz, h_rec, cell.weight_hh[: 2 * H].t()))  # (B, H) -> (B, 2H)
    r, z = rz.chunk(2, 1)  # each (B, H)
    hn = (r * h_rec) @ cell.weight_hh[2 * H :].t()  # (B, H)
    n = torch.tanh(x_n + hn if cell.bias_hh is None else x_n + hn + cell.bias_hh[2 * H :])
    return torch.lerp(n, h, z)  # (1 - z) n + z h


#: reset placement -> its step, resolved once when the cell is built
GRU_STEPS = {"after": _step_after, "before": _step_before}
RESETS = tuple(GRU_STEPS)


class GRUCell(RecurrentCell):
    r"""Gated recurrent unit (Cho et al. 2014), with the reset gate applied *before* or *after* the recurrent
    matrix product. Gate order and parameter layout are torch.nn.GRU's (r, z, n).

    .. math::
        \begin{array}{lll}
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))
            & \text{reset="after": cuDNN, torch.nn.GRU, Keras reset\_after=True} \\
        n_t = \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})
            & \text{reset="before": Cho et al. 2014, eq. 5-8, as taught} \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    "after" lets the whole recurrent product :math:`W_h h_{t-1}` be computed in one matrix product per step
    (the reason cuDNN chose it); "before" needs a second, dependent product per step. The two are different
    models: weights trained with one do not give the same function with the other. The placement is resolved
    once, at construction, to one of the two step functions in :data:`GRU_STEPS`.

    Recurrent dropout (:meth:`step_with_dropout`, Gal & Ghahramani 2016) masks :math:`h_{t-1}` where it enters
    the recurrent products (:math:`W_{hr} h, W_{hz} h, W_{hn} h` after; :math:`W_{hr} h, W_{hz} h,
    W_{hn}(r_t \odot h)` before) and never in the interpolation :math:`z_t \odot h_{t-1}`.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`h_t`.
        reset: where the reset gate acts, ``"after"`` (default) or ``"before"`` the recurrent product.
        bias: if False, no bias vectors.

    Shape:
        - x_t: (B, I); state h: (B, H); output y_t = h_t: (B, H).

    Example::

        >>> cell = GRUCell(8, 16, reset="before")
        >>> y, h = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(self, input_size: int, hidden_size: int, reset: str = "after", bias: bool = True):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        if not isinstance(reset, str) or reset not in GRU_STEPS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self._remember(input_size=input_size, hidden_size=hidden_size, reset=reset, bias=bias)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = 3 * hidden_size
        self._reset = reset
        self._step = GRU_STEPS[reset]
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    @property
    def reset(self) -> str:
        """``"after"`` or ``"before"``; fixed at construction (the step function was chosen from it)."""
        return self._reset

    def reset_parameters(self) -> None:
        self._uniform_()

    def init_state(self, batch, device=None, dtype=None) -> Tensor:
        return self._zeros(batch, self.hidden_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        # W_i* x_t + b_i*, plus b_hr and b_hz (b_hn stays inside the reset product): (..., I) -> (..., 3H)
        if self.bias_ih is None:
            return torch.nn.functional.linear(x, self.weight_ih)
        H = self.hidden_size
        b = torch.cat([self.bias_ih[: 2 * H] + self.bias_hh[: 2 * H], self.bias_ih[2 * H :]])
        return torch.nn.functional.linear(x, self.weight_ih, b)

    def step(self, xp_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        h = self._step(self, xp_t, h, h)
        return h, h

    def step_with_dropout(self, xp_t: Tensor, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h = self._step(self, xp_t, h, h * mask)  # the mask reaches the products only, not z * h
        return h, h
