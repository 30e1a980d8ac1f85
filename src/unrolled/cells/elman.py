"""The Elman (vanilla) recurrent cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.cells.activations import HIDDEN_ACTIVATIONS, get_activation
from unrolled.cells.base import RecurrentCell, check_positive


class ElmanCell(RecurrentCell):
    r"""Elman (vanilla) RNN cell (Elman 1990), the recurrence of Goodfellow et al., *Deep Learning*, eq. 10.8:

    .. math::
        a_t = b + W h_{t-1} + U x_t, \qquad h_t = \phi(a_t)

    with :math:`U` = ``weight_ih``, :math:`W` = ``weight_hh`` and :math:`b` = ``bias_ih + bias_hh`` (two bias
    vectors, as in :class:`torch.nn.RNN`, so weights map one-to-one onto torch's). :math:`\phi` is tanh, relu or
    sigmoid (:data:`~unrolled.cells.activations.HIDDEN_ACTIVATIONS`).

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`h_t`.
        nonlinearity: :math:`\phi`, ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``.
        bias: if False, no bias vectors.

    Shape:
        - x_t: (B, I); state h: (B, H); output y_t = h_t: (B, H).

    Example::

        >>> cell = ElmanCell(8, 16)
        >>> y, h = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", bias: bool = True):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        self.phi = get_activation(nonlinearity, HIDDEN_ACTIVATIONS)
        self._remember(input_size=input_size, hidden_size=hidden_size, nonlinearity=nonlinearity, bias=bias)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = hidden_size
        self.nonlinearity = nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))  # U
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))  # W
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._uniform_()

    def init_state(self, batch, device=None, dtype=None) -> Tensor:
        return self._zeros(batch, self.hidden_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        # U x_t + b, for one step (B, I) -> (B, H) or all steps (T, B, I) -> (T, B, H)
        if self.bias_ih is None:
            return torch.nn.functional.linear(x, self.weight_ih)
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def step(self, xp_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        a = torch.addmm(xp_t, h, self.weight_hh.t())  # a_t = b + W h_{t-1} + U x_t: (B, H)
        h = self.phi(a)
        return h, h
