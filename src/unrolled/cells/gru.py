"""The gated recurrent unit, in both reset placements."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, check_positive

RESETS = ("after", "before")


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
    models: weights trained with one do not give the same function with the other.

    Args:
        input_size: I. hidden_size: H. reset: ``"after"`` (default) or ``"before"``. bias: use bias vectors.

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
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self._remember(input_size=input_size, hidden_size=hidden_size, reset=reset, bias=bias)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = 3 * hidden_size
        self.reset = reset
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

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
        H = self.hidden_size
        x_rz, x_n = xp_t[:, : 2 * H], xp_t[:, 2 * H :]
        b_hn = None if self.bias_hh is None else self.bias_hh[2 * H :]
        if self.reset == "after":
            hp = h @ self.weight_hh.t()  # (B, 3H)
            rz = torch.sigmoid(x_rz + hp[:, : 2 * H])  # (B, 2H)
            r, z = rz.chunk(2, 1)
            hn = hp[:, 2 * H :] if b_hn is None else hp[:, 2 * H :] + b_hn
            n = torch.tanh(x_n + r * hn)
        else:
            rz = torch.sigmoid(torch.addmm(x_rz, h, self.weight_hh[: 2 * H].t()))  # (B, 2H)
            r, z = rz.chunk(2, 1)
            hn = (r * h) @ self.weight_hh[2 * H :].t()  # (B, H)
            n = torch.tanh(x_n + hn if b_hn is None else x_n + hn + b_hn)
        h = torch.lerp(n, h, z)  # (1 - z) n + z h
        return h, h
