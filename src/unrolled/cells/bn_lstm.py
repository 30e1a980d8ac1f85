"""The recurrent batch-normalised LSTM (Cooijmans et al. 2016)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, check_positive

_STATS = ("ih", "hh", "c")


class BatchNormLSTMCell(RecurrentCell):
    r"""LSTM with recurrent batch normalisation (Cooijmans et al. 2016, eq. 6-8):

    .. math::
        \begin{array}{l}
        (i_t, f_t, g_t, o_t) = \mathrm{BN}_t(W_{hh} h_{t-1}; \gamma_h) + \mathrm{BN}_t(W_{ih} x_t; \gamma_x) + b \\
        c_t = \sigma(f_t) \odot c_{t-1} + \sigma(i_t) \odot \tanh(g_t) \\
        h_t = \sigma(o_t) \odot \tanh(\mathrm{BN}_t(c_t; \gamma_c, \beta_c))
        \end{array}

    with :math:`\mathrm{BN}_t(a; \gamma, \beta) = \gamma \odot (a - \hat\mu_t) / \sqrt{\hat\sigma^2_t + \epsilon}
    + \beta`. In training :math:`\hat\mu_t, \hat\sigma^2_t` are the batch's statistics, and the *population*
    statistics of step t (running means, ``momentum`` as in :class:`torch.nn.BatchNorm1d`) are updated; in
    evaluation the population statistics of step t are used. Statistics are kept per time step for
    t < ``max_length`` (T_max) and those of step T_max - 1 are shared by every later step (Cooijmans et al.
    2016, §4: "generalising beyond T_max"). The shifts of the two gate BNs are left out (the bias :math:`b`
    plays their role, §3); the gains start at 0.1 (§5: larger gains saturate tanh and vanish gradients).

    **The time index lives in the state.** The cell contract gives a step no time index, so the state is
    ``(h, c, t)`` with ``t`` (B, 1) the number of steps taken, in the input's dtype: ``init_state`` starts it at
    0, each step adds 1, and :class:`~unrolled.layers.Recurrent` carries it like any state part (a finished
    sequence under ``lengths`` keeps its own count, a carried state continues counting). In training the
    population statistics updated are those of the batch's largest ``t``. Zoneout also zones out ``t``: do not
    combine the two.

    Parameters: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias`` (4H), gate order i, f, g, o as torch
    (forget slice of ``bias`` starts at ``forget_bias``), ``bn_ih_weight`` :math:`\gamma_x` (4H),
    ``bn_hh_weight`` :math:`\gamma_h` (4H), ``bn_c_weight`` :math:`\gamma_c` (H), ``bn_c_bias`` :math:`\beta_c`
    (H). Buffers ``running_mean_{ih,hh,c}`` and ``running_var_{ih,hh,c}``, each (T_max, 4H) or (T_max, H).

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`h_t` and :math:`c_t`.
        max_length: T_max, the steps with statistics of their own (steps past it share the last one's).
        momentum: weight of the new batch in the running statistics.
        eps: the BN epsilon.
        gamma: initial value of every BN gain (0.1, Cooijmans et al. 2016, §5).
        forget_bias: initial forget-gate bias.

    Shape:
        - x_t: (B, I); state (h, c, t): h, c (B, H), t (B, 1); output y_t = h_t: (B, H).

    Example::

        >>> cell = BatchNormLSTMCell(8, 16, max_length=50)
        >>> y, (h, c, t) = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        max_length: int = 100,
        momentum: float = 0.1,
        eps: float = 1e-5,
        gamma: float = 0.1,
        forget_bias: float = 1.0,
    ):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        check_positive("max_length", max_length)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be a number in (0, 1], got {momentum!r}")
        self._remember(
            input_size=input_size,
            hidden_size=hidden_size,
            max_length=max_length,
            momentum=momentum,
            eps=eps,
            gamma=gamma,
            forget_bias=forget_bias,
        )
        H = hidden_size
        self.input_size, self.hidden_size, self.output_size = input_size, H, H
        self.projected_size = 4 * H
        self.max_length, self.momentum, self.eps = max_length, float(momentum), float(eps)
        self.gamma, self.forget_bias = float(gamma), forget_bias
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H))
        self.bias = nn.Parameter(torch.empty(4 * H))
        self.bn_ih_weight = nn.Parameter(torch.empty(4 * H))
        self.bn_hh_weight = nn.Parameter(torch.empty(4 * H))
        self.bn_c_weight = nn.Parameter(torch.empty(H))
        self.bn_c_bias = nn.Parameter(torch.empty(H))
        for name, width in (("ih", 4 * H), ("hh", 4 * H), ("c", H)):
            self.register_buffer(f"running_mean_{name}", torch.zeros(max_length, width))
            self.register_buffer(f"running_var_{name}", torch.ones(max_length, width))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = self.hidden_size**-0.5
        nn.init.uniform_(self.weight_ih, -k, k)
        nn.init.orthogonal_(self.weight_hh)  # Cooijmans et al. 2016, §5: orthogonal recurrent matrix
        H = self.hidden_size
        with torch.no_grad():
            self.bias.zero_()
            self.bias[H : 2 * H].fill_(self.forget_bias)
            for p in (self.bn_ih_weight, self.bn_hh_weight, self.bn_c_weight):
                p.fill_(self.gamma)
            self.bn_c_bias.zero_()
        self.reset_running_stats()

    def reset_running_stats(self) -> None:
        """Population statistics back to mean 0, variance 1 (as torch.nn.BatchNorm1d)."""
        for name in _STATS:
            getattr(self, f"running_mean_{name}").zero_()
            getattr(self, f"running_var_{name}").fill_(1.0)

    def init_state(self, batch, device=None, dtype=None) -> tuple[Tensor, Tensor, Tensor]:
        h = self._zeros(batch, self.hidden_size, device, dtype)
        return h, torch.zeros_like(h), h.new_zeros(batch, 1)

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih)  # W_ih x_t, normalised per step inside step(): (..., I) -> (..., 4H)

    def _bn(self, a: Tensor, name: str, t: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """BN_t(a): batch statistics in training (updating step t's population statistics), else step t's."""
        mean_buf, var_buf = getattr(self, f"running_mean_{name}"), getattr(self, f"running_var_{name}")
        if self.training:
            if a.shape[0] < 2:
                raise ValueError("BatchNormLSTMCell: training needs a batch of at least 2 sequences (B >= 2)")
            mean, var = a.mean(0), a.var(0, unbiased=False)  # (W,) each
            k = min(int(t.max()), self.max_length - 1)
            with torch.no_grad():
                m = self.momentum
                mean_buf[k].mul_(1 - m).add_(mean.detach().to(mean_buf.dtype), alpha=m)
                unbiased = var.detach() * a.shape[0] / (a.shape[0] - 1)
                var_buf[k].mul_(1 - m).add_(unbiased.to(var_buf.dtype), alpha=m)
        else:
            idx = t.squeeze(1).long().clamp(0, self.max_length - 1)  # (B,)
            mean, var = mean_buf[idx].to(a.dtype), var_buf[idx].to(a.dtype)  # (B, W) each
        out = (a - mean) * torch.rsqrt(var + self.eps) * weight
        return out if bias is None else out + bias

    def step(self, xp_t: Tensor, state: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        h, c, t = state
        rec = F.linear(h, self.weight_hh)  # W_hh h_{t-1}: (B, 4H)
        gates = self._bn(rec, "hh", t, self.bn_hh_weight, None) + self._bn(xp_t, "ih", t, self.bn_ih_weight, None)
        i, f, g, o = (gates + self.bias).chunk(4, 1)  # each (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self._bn(c, "c", t, self.bn_c_weight, self.bn_c_bias))
        return h, (h, c, t + 1)
