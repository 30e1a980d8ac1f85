"""The deep-transition RNN cell: a multilayer perceptron inside the recurrent step (Pascanu et al. 2014)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.cells.activations import HIDDEN_ACTIVATIONS, get_activation
from unrolled.cells.base import RecurrentCell, check_positive


class DeepTransitionCell(RecurrentCell):
    r"""Deep-transition RNN cell (DT-RNN, Pascanu et al. 2014, "How to construct deep recurrent neural networks",
    §3.2): the map from :math:`(x_t, h_{t-1})` to :math:`h_t` is an MLP with :math:`L` hidden layers instead of
    one affine map and a nonlinearity:

    .. math::
        z^{(1)}_t = \phi(U x_t + W h_{t-1} + b), \qquad
        z^{(l)}_t = \phi(V_l z^{(l-1)}_t + c_l) \quad (l = 2..L), \qquad h_t = z^{(L)}_t

    With ``transition_layers=1`` it is the Elman cell. :math:`U` = ``weight_ih`` (H, I), :math:`W` =
    ``weight_hh`` (H, H), :math:`b` = ``bias_ih + bias_hh``, :math:`V_l, c_l` = ``transition[l-2].weight`` /
    ``.bias`` (H, H) / (H). The intermediate layers have H units as well (the paper's choice of one width).
    Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.RNN.

    Recurrent dropout (the default :meth:`~unrolled.cells.RecurrentCell.step_with_dropout`) masks
    :math:`h_{t-1}` in :math:`W h_{t-1}`, its only use.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`h_t` and of every intermediate layer.
        transition_layers: L >= 1, layers of the transition MLP (default 2).
        nonlinearity: :math:`\phi`, ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``.

    Shape:
        - x_t: (B, I); state h: (B, H); output y_t = h_t: (B, H).

    Example::

        >>> cell = DeepTransitionCell(8, 16, transition_layers=3)
        >>> y, h = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(self, input_size: int, hidden_size: int, transition_layers: int = 2, nonlinearity: str = "tanh"):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        check_positive("transition_layers", transition_layers)
        self.phi = get_activation(nonlinearity, HIDDEN_ACTIVATIONS)
        self._remember(
            input_size=input_size,
            hidden_size=hidden_size,
            transition_layers=transition_layers,
            nonlinearity=nonlinearity,
        )
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = hidden_size
        self.transition_layers, self.nonlinearity = transition_layers, nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))  # U
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))  # W
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        self.transition = nn.ModuleList(nn.Linear(hidden_size, hidden_size) for _ in range(transition_layers - 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._uniform_()

    def init_state(self, batch, device=None, dtype=None) -> Tensor:
        return self._zeros(batch, self.hidden_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        # U x_t + b: (..., I) -> (..., H)
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def step(self, xp_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        z = self.phi(torch.addmm(xp_t, h, self.weight_hh.t()))  # z^(1): (B, H)
        for layer in self.transition:
            z = self.phi(layer(z))  # z^(l): (B, H)
        return z, z
