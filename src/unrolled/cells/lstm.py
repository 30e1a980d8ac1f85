"""The long short-term memory cell, with optional peepholes and projection."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, check_positive


class LSTMCell(RecurrentCell):
    r"""Long short-term memory cell (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000).

    .. math::
        \begin{array}{ll}
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi} + w_{ci} \odot c_{t-1}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf} + w_{cf} \odot c_{t-1}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho} + w_{co} \odot c_t) \\
        h_t = o_t \odot \tanh(c_t) \qquad (\text{with projection: } h_t = W_{hr}(o_t \odot \tanh(c_t)))
        \end{array}

    Parameters use torch.nn.LSTM's names, shapes and gate order (i, f, g, o): ``weight_ih`` (4H, I),
    ``weight_hh`` (4H, P or H), ``bias_ih``/``bias_hh`` (4H), ``weight_hr`` (P, H) with projection. The peephole
    terms (Gers & Schmidhuber 2000) are ``weight_ci``, ``weight_cf``, ``weight_co`` (H) and exist only with
    ``peephole=True``.

    The forget-gate bias starts at 1 (Jozefowicz et al. 2015: ``bias_ih`` forget slice = 1, ``bias_hh`` forget
    slice = 0), every other parameter ~ U(-1/sqrt(H), 1/sqrt(H)) as in torch.nn.LSTM. Pass
    ``forget_bias=None`` for torch's initialisation unchanged.

    Recurrent dropout (:meth:`~unrolled.cells.RecurrentCell.step_with_dropout`, Gal & Ghahramani 2016) masks
    :math:`h_{t-1}` where it enters :math:`W_{h*} h_{t-1}`; the memory :math:`c` is never masked.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`c_t` (and of :math:`h_t` without projection).
        proj_size: P, units of the projected :math:`h_t` (0, the default, = no projection, as torch).
        peephole: add the peephole connections :math:`w_{ci}, w_{cf}, w_{co}`.
        bias: if False, no bias vectors.
        forget_bias: initial forget-gate bias (None: torch's initialisation).

    Shape:
        - x_t: (B, I); state (h, c): h (B, P or H), c (B, H); output y_t = h_t: (B, P or H).

    Example::

        >>> cell = LSTMCell(8, 16)
        >>> y, (h, c) = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        proj_size: int = 0,
        peephole: bool = False,
        bias: bool = True,
        forget_bias: float | None = 1.0,
    ):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        if (
            not isinstance(proj_size, int)
            or isinstance(proj_size, bool)
            or proj_size < 0
            or proj_size >= hidden_size
            and proj_size != 0
        ):
            raise ValueError(f"proj_size must be an integer in [0, hidden_size={hidden_size}), got {proj_size!r}")
        self._remember(
            input_size=input_size,
            hidden_size=hidden_size,
            proj_size=proj_size,
            peephole=peephole,
            bias=bias,
            forget_bias=forget_bias,
        )
        self.input_size, self.hidden_size, self.proj_size = input_size, hidden_size, proj_size
        self.peephole, self.forget_bias = peephole, forget_bias
        out = proj_size or hidden_size
        self.output_size, self.projected_size = out, 4 * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, out))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if proj_size:
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size))
        else:
            self.register_parameter("weight_hr", None)
        if peephole:
            self.weight_ci = nn.Parameter(torch.empty(hidden_size))
            self.weight_cf = nn.Parameter(torch.empty(hidden_size))
            self.weight_co = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._uniform_()
        if self.forget_bias is not None and self.bias_ih is not None:
            H = self.hidden_size
            with torch.no_grad():
                self.bias_ih[H : 2 * H].fill_(self.forget_bias)
                self.bias_hh[H : 2 * H].zero_()

    def init_state(self, batch, device=None, dtype=None) -> tuple[Tensor, Tensor]:
        h = self._zeros(batch, self.output_size, device, dtype)
        return h, self._zeros(batch, self.hidden_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        # W_i* x_t + b_i* + b_h*: (..., I) -> (..., 4H)
        if self.bias_ih is None:
            return torch.nn.functional.linear(x, self.weight_ih)
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def step(self, xp_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state
        gates = torch.addmm(xp_t, h, self.weight_hh.t())  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)  # each (B, H)
        if self.peephole:
            i = i + self.weight_ci * c
            f = f + self.weight_cf * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.peephole:
            o = o + self.weight_co * c
        h = torch.sigmoid(o) * torch.tanh(c)
        if self.weight_hr is not None:
            h = h @ self.weight_hr.t()  # (B, H) -> (B, P)
        return h, (h, c)
