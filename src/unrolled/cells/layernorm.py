"""Layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, check_positive


class LayerNormLSTMCell(RecurrentCell):
    r"""LSTM with layer normalisation (Ba et al. 2016, §3.1 and eq. 20-22):

    .. math::
        \begin{array}{l}
        (i_t, f_t, g_t, o_t) = \mathrm{LN}(W_{ih} x_t; \alpha_1, \beta_1)
            + \mathrm{LN}(W_{hh} h_{t-1}; \alpha_2, \beta_2) \\
        c_t = \sigma(f_t) \odot c_{t-1} + \sigma(i_t) \odot \tanh(g_t) \\
        h_t = \sigma(o_t) \odot \tanh(\mathrm{LN}(c_t; \alpha_3, \beta_3))
        \end{array}

    Each LN normalises the whole 4H pre-activation jointly, as in the paper; the LN shifts :math:`\beta` play
    the role of the biases. Because :math:`\mathrm{LN}(W_{ih} x_t)` does not depend on the state it is
    computed for all steps at once. Parameters: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``ln_ih``,
    ``ln_hh`` (LayerNorm(4H)), ``ln_c`` (LayerNorm(H)). Gate order i, f, g, o; the forget slice of
    ``ln_ih.bias`` starts at 1 (Jozefowicz et al. 2015).

    Recurrent dropout (:meth:`~unrolled.cells.RecurrentCell.step_with_dropout`) masks :math:`h_{t-1}` in
    :math:`W_{hh} h_{t-1}` only; :math:`c` is never masked.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`h_t` and :math:`c_t`.
        eps: the LayerNorm epsilon.
        forget_bias: initial forget-gate shift (the forget slice of ``ln_ih.bias``).

    Shape:
        - x_t: (B, I); state (h, c): each (B, H); output y_t = h_t: (B, H).

    Example::

        >>> cell = LayerNormLSTMCell(8, 16)
        >>> y, (h, c) = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(self, input_size: int, hidden_size: int, eps: float = 1e-5, forget_bias: float = 1.0):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        self._remember(input_size=input_size, hidden_size=hidden_size, eps=eps, forget_bias=forget_bias)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = 4 * hidden_size
        self.forget_bias = forget_bias
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.ln_ih = nn.LayerNorm(4 * hidden_size, eps=eps)
        self.ln_hh = nn.LayerNorm(4 * hidden_size, eps=eps, bias=False)
        self.ln_c = nn.LayerNorm(hidden_size, eps=eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = self.hidden_size**-0.5
        nn.init.uniform_(self.weight_ih, -k, k)
        nn.init.uniform_(self.weight_hh, -k, k)
        for ln in (self.ln_ih, self.ln_hh, self.ln_c):
            ln.reset_parameters()
        with torch.no_grad():
            H = self.hidden_size
            self.ln_ih.bias[H : 2 * H].fill_(self.forget_bias)

    def init_state(self, batch, device=None, dtype=None) -> tuple[Tensor, Tensor]:
        h = self._zeros(batch, self.hidden_size, device, dtype)
        return h, torch.zeros_like(h)

    def project_input(self, x: Tensor) -> Tensor:
        return self.ln_ih(F.linear(x, self.weight_ih))  # LN(W_ih x_t): (..., I) -> (..., 4H)

    def step(self, xp_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state
        gates = xp_t + self.ln_hh(h @ self.weight_hh.t())  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)  # each (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self.ln_c(c))
        return h, (h, c)


def _ln_step_after(cell: LayerNormGRUCell, xp_t: Tensor, h: Tensor, h_rec: Tensor) -> Tensor:
    r"""reset="after": :math:`n = \tanh(\bar n_x + r \odot \mathrm{LN}(W_{hn} h))`. ``h_rec`` is the previous state
    as the recurrent product reads it (``h``, or ``h`` times a recurrent-dropout mask), ``h`` as the
    interpolation reads it."""
    H = cell.hidden_size
    hp = h_rec @ cell.weight_hh.t()  # (B, H) -> (B, 3H)
    rz = torch.sigmoid(xp_t[:, : 2 * H] + cell.ln_hrz(hp[:, : 2 * H]))  # (B, 2H)
    r, z = rz.chunk(2, 1)  # each (B, H)
    n = torch.tanh(xp_t[:, 2 * H :] + r * cell.ln_hn(hp[:, 2 * H :]))
    return torch.lerp(n, h, z)  # (1 - z) n + z h


def _ln_step_before(cell: LayerNormGRUCell, xp_t: Tensor, h: Tensor, h_rec: Tensor) -> Tensor:
    r"""reset="before": :math:`n = \tanh(\bar n_x + \mathrm{LN}(W_{hn} (r \odot h)))`. ``h_rec`` and ``h`` as in
    :func:`_ln_step_after`."""
    H = cell.hidden_size
    rz = torch.sigmoid(xp_t[:, : 2 * H] + cell.ln_hrz(h_rec @ cell.weight_hh[: 2 * H].t()))  # (B, H) -> (B, 2H)
    r, z = rz.chunk(2, 1)  # each (B, H)
    n = torch.tanh(xp_t[:, 2 * H :] + cell.ln_hn((r * h_rec) @ cell.weight_hh[2 * H :].t()))
    return torch.lerp(n, h, z)  # (1 - z) n + z h


#: reset placement -> its step, resolved once when the cell is built
LN_GRU_STEPS = {"after": _ln_step_after, "before": _ln_step_before}
RESETS = tuple(LN_GRU_STEPS)


class LayerNormGRUCell(RecurrentCell):
    r"""GRU with layer normalisation (Ba et al. 2016), in both reset placements of :class:`GRUCell`:

    .. math::
        \begin{array}{ll}
        (\bar r, \bar z, \bar n)_x = \mathrm{LN}(W_{ih} x_t; \alpha_1, \beta_1) \\
        r_t, z_t = \sigma\big((\bar r, \bar z)_x + \mathrm{LN}(W_{h\{r,z\}} h_{t-1}; \alpha_2)\big) \\
        n_t = \tanh\big(\bar n_x + r_t \odot \mathrm{LN}(W_{hn} h_{t-1}; \alpha_3, \beta_3)\big)
            & \text{reset="after"} \\
        n_t = \tanh\big(\bar n_x + \mathrm{LN}(W_{hn} (r_t \odot h_{t-1}); \alpha_3, \beta_3)\big)
            & \text{reset="before"} \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    Parameters: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``ln_ih`` (LayerNorm(3H)), ``ln_hrz`` (LayerNorm(2H),
    no shift), ``ln_hn`` (LayerNorm(H)). The placement is resolved once, at construction, to one of the two step
    functions in :data:`LN_GRU_STEPS`. Recurrent dropout (:meth:`step_with_dropout`, Gal & Ghahramani 2016)
    masks :math:`h_{t-1}` inside the recurrent products only, never in :math:`z_t \odot h_{t-1}`.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`h_t`.
        reset: where the reset gate acts, ``"after"`` (default) or ``"before"`` the recurrent product.
        eps: the LayerNorm epsilon.

    Shape:
        - x_t: (B, I); state h: (B, H); output y_t = h_t: (B, H).

    Example::

        >>> cell = LayerNormGRUCell(8, 16)
        >>> y, h = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(self, input_size: int, hidden_size: int, reset: str = "after", eps: float = 1e-5):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        if not isinstance(reset, str) or reset not in LN_GRU_STEPS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self._remember(input_size=input_size, hidden_size=hidden_size, reset=reset, eps=eps)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = 3 * hidden_size
        self._reset = reset
        self._step = LN_GRU_STEPS[reset]
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.ln_ih = nn.LayerNorm(3 * hidden_size, eps=eps)
        self.ln_hrz = nn.LayerNorm(2 * hidden_size, eps=eps, bias=False)
        self.ln_hn = nn.LayerNorm(hidden_size, eps=eps)
        self.reset_parameters()

    @property
    def reset(self) -> str:
        """``"after"`` or ``"before"``; fixed at construction (the step function was chosen from it)."""
        return self._reset

    def reset_parameters(self) -> None:
        k = self.hidden_size**-0.5
        nn.init.uniform_(self.weight_ih, -k, k)
        nn.init.uniform_(self.weight_hh, -k, k)
        for ln in (self.ln_ih, self.ln_hrz, self.ln_hn):
            ln.reset_parameters()

    def init_state(self, batch, device=None, dtype=None) -> Tensor:
        return self._zeros(batch, self.hidden_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        return self.ln_ih(F.linear(x, self.weight_ih))  # (..., I) -> (..., 3H)

    def step(self, xp_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        h = self._step(self, xp_t, h, h)
        return h, h

    def step_with_dropout(self, xp_t: Tensor, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h = self._step(self, xp_t, h, h * mask)  # the mask reaches the products only, not z * h
        return h, h
