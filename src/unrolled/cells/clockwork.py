"""The Clockwork RNN cell (Koutnik et al. 2014): modules that tick at their own periods."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from unrolled.cells.activations import HIDDEN_ACTIVATIONS, get_activation
from unrolled.cells.base import RecurrentCell, check_positive


class ClockworkCell(RecurrentCell):
    r"""Clockwork RNN cell (Koutník, Greff, Gomez & Schmidhuber 2014, "A Clockwork RNN").

    The H hidden units are split into g equal modules with periods :math:`T_1 < \dots < T_g` (``periods``,
    ascending). At step :math:`t` module :math:`i` is *active* when :math:`t \bmod T_i = 0`; active modules
    compute an Elman update, the others keep their value:

    .. math::
        h^{(i)}_t = \begin{cases} \phi\big(W^{(i)} h_{t-1} + U^{(i)} x_t + b^{(i)}\big) & t \bmod T_i = 0 \\
        h^{(i)}_{t-1} & \text{otherwise} \end{cases}

    :math:`W` = ``weight_hh * mask`` is block upper-triangular (paper §3): module :math:`i` reads module
    :math:`j` only when :math:`T_j \ge T_i` (slow modules feed fast ones, never the reverse).
    :math:`U` = ``weight_ih`` (H, I), :math:`b` = ``bias_ih + bias_hh`` (H). Output: :math:`y_t = h_t`.

    **Time index.** The cell contract has no time argument, so the step counter travels in the state:
    state ``(h, t)`` with ``t`` (B, 1) the number of steps taken so far, in the input's dtype (exact up to
    :math:`2^{24}` steps in float32). The first step is :math:`t = 0`, where every module is active. Under
    :class:`~unrolled.layers.Recurrent` with ``lengths``, padded steps keep the whole state, the counter
    included; the reverse direction counts from each sequence's own end. Zoneout would mix the counter
    and must not be used with this cell.

    Recurrent dropout masks :math:`h_{t-1}` in :math:`W h_{t-1}` only; inactive modules keep the unmasked value.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, a multiple of the number of modules g.
        periods: :math:`T_1..T_g`, distinct positive integers in ascending order (default (1, 2, 4, 8), the
            paper's exponential series).
        nonlinearity: :math:`\phi`, ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``.

    Shape:
        - x_t: (B, I); state (h, t): h (B, H), t (B, 1); output y_t = h_t: (B, H).

    Example::

        >>> cell = ClockworkCell(8, 16, periods=(1, 2, 4, 8))
        >>> y, (h, t) = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        periods: Sequence[int] = (1, 2, 4, 8),
        nonlinearity: str = "tanh",
    ):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        periods = tuple(periods) if isinstance(periods, (list, tuple)) else periods
        if (
            not isinstance(periods, tuple)
            or not periods
            or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in periods)
            or list(periods) != sorted(set(periods))
        ):
            raise ValueError(f"periods must be distinct positive integers in ascending order, got {periods!r}")
        g = len(periods)
        if hidden_size % g:
            raise ValueError(f"hidden_size must be a multiple of len(periods)={g}, got {hidden_size}")
        self.phi = get_activation(nonlinearity, HIDDEN_ACTIVATIONS)
        self._remember(input_size=input_size, hidden_size=hidden_size, periods=periods, nonlinearity=nonlinearity)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = hidden_size
        self.periods, self.nonlinearity, self.module_size = periods, nonlinearity, hidden_size // g
        k = self.module_size
        unit_period = torch.tensor(periods, dtype=torch.float64).repeat_interleave(k)  # (H,): T of each unit
        self.register_buffer("unit_period", unit_period, persistent=False)
        module = torch.arange(g).repeat_interleave(k)  # (H,): module of each unit
        self.register_buffer("mask", (module[:, None] <= module[None, :]).to(torch.get_default_dtype()))  # (H, H)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))  # U
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))  # W before the block mask
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._uniform_()

    def init_state(self, batch, device=None, dtype=None) -> tuple[Tensor, Tensor]:
        return self._zeros(batch, self.hidden_size, device, dtype), self._zeros(batch, 1, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        # U x_t + b: (..., I) -> (..., H)
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def active(self, t: Tensor) -> Tensor:
        """Which units update at step ``t`` (B, 1): (B, H) booleans, :math:`t \\bmod T_i = 0` per unit."""
        return torch.remainder(t.to(torch.float64), self.unit_period) == 0  # (B, H)

    def _update(self, xp_t: Tensor, h_read: Tensor, h_keep: Tensor, t: Tensor) -> tuple[Tensor, tuple]:
        w = self.weight_hh * self.mask.to(self.weight_hh.dtype)  # block upper-triangular W: (H, H)
        new = self.phi(torch.addmm(xp_t, h_read, w.t()))  # (B, H)
        h = torch.where(self.active(t), new, h_keep)  # (B, H)
        return h, (h, t + 1)

    def step(self, xp_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, t = state
        return self._update(xp_t, h, h, t)

    def step_with_dropout(self, xp_t: Tensor, state: tuple[Tensor, Tensor], mask: Tensor):
        h, t = state
        return self._update(xp_t, h * mask, h, t)
