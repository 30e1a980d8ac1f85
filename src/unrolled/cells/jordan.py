"""Output recurrence: the Jordan network."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.cells.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, get_activation
from unrolled.cells.base import RecurrentCell, check_positive


class JordanCell(RecurrentCell):
    r"""Jordan network cell (Jordan 1986; Goodfellow et al., *Deep Learning* §10.2, fig. 10.4): the previous
    *output*, not the hidden state, is fed back.

    .. math::
        h_t = \phi(b + W y_{t-1} + U x_t), \qquad y_t = \psi(c + V h_t)

    Because only :math:`y` is fed back, training may feed the *target* :math:`\hat y_{t-1}` instead of the model's
    own output (teacher forcing, Williams & Zipser 1989): pass ``teacher=`` to :class:`unrolled.Recurrent`, or
    call :meth:`force` yourself. Parameters: ``weight_ih`` U (H, I), ``weight_hh`` W (H, O), ``bias_ih`` +
    ``bias_hh`` = b (H), ``weight_ho`` V (O, H), ``bias_ho`` c (O).

    Recurrent dropout (:meth:`~unrolled.cells.RecurrentCell.step_with_dropout`) masks :math:`y_{t-1}` where it
    enters :math:`W y_{t-1}`, its only use.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`h_t`.
        output_size: O, units of :math:`y_t` (default H).
        nonlinearity: :math:`\phi`, ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``.
        output_nonlinearity: :math:`\psi`, ``"identity"`` (default), ``"tanh"``, ``"sigmoid"`` or ``"relu"``.

    Shape:
        - x_t: (B, I); state y_{t-1}: (B, O); output y_t: (B, O).

    Example::

        >>> cell = JordanCell(3, 16, output_size=1)
        >>> y, state = cell(torch.randn(4, 3), cell.init_state(4))
    """

    supports_teacher_forcing = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        nonlinearity: str = "tanh",
        output_nonlinearity: str = "identity",
    ):
        super().__init__()
        output_size = hidden_size if output_size is None else output_size
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        check_positive("output_size", output_size)
        self.phi = get_activation(nonlinearity, HIDDEN_ACTIVATIONS)
        self.psi = get_activation(output_nonlinearity, OUTPUT_ACTIVATIONS, "output_nonlinearity")
        self._remember(
            input_size=input_size,
            hidden_size=hidden_size,
            output_size=output_size,
            nonlinearity=nonlinearity,
            output_nonlinearity=output_nonlinearity,
        )
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.projected_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, output_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        self.weight_ho = nn.Parameter(torch.empty(output_size, hidden_size))
        self.bias_ho = nn.Parameter(torch.empty(output_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._uniform_()

    def init_state(self, batch, device=None, dtype=None) -> Tensor:
        return self._zeros(batch, self.output_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        # U x_t + b: (..., I) -> (..., H)
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def step(self, xp_t: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        h = self.phi(torch.addmm(xp_t, y, self.weight_hh.t()))  # (B, H)
        y = self.psi(torch.addmm(self.bias_ho, h, self.weight_ho.t()))  # (B, O)
        return y, y

    def force(self, state: Tensor, y_prev: Tensor) -> Tensor:
        if y_prev.shape != state.shape:
            raise ValueError(
                f"teacher-forced value must have shape {tuple(state.shape)} (B, O), got {tuple(y_prev.shape)}"
            )
        return y_prev
