"""Leaky-integrator (multi-timescale) units."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from unrolled.cells.activations import HIDDEN_ACTIVATIONS, get_activation
from unrolled.cells.base import RecurrentCell, check_positive


class LeakyCell(RecurrentCell):
    r"""Leaky-integrator units (Jaeger et al. 2007; Goodfellow et al., *Deep Learning* §10.9.2):

    .. math::
        s_t = \left(1 - \tfrac{1}{\tau}\right) s_{t-1} + \tfrac{1}{\tau}\, \sigma(b + W s_{t-1} + U x_t)

    A unit with time constant :math:`\tau` forgets at rate :math:`1/\tau`; :math:`\tau = 1` is an Elman cell. The
    time constants may be

    * fixed and shared: ``tau=4.0`` (the default is 2);
    * fixed per unit: ``tau=[1, 2, 4, ...]`` (length H);
    * sampled from a range, a timescale hierarchy: ``tau_range=(1, 100)`` draws each unit's :math:`\tau`
      log-uniformly (multi-timescale units, as in the multiple timescales RNN of Yamashita & Tani 2008);
      ``tau`` and ``tau_range`` exclude each other;
    * learned: ``learn_tau=True`` keeps :math:`\tau = 1 + \mathrm{softplus}(\rho) \ge 1` with a learned
      :math:`\rho` (``tau_raw``), initialised from the fixed or sampled values.

    Parameters: ``weight_ih`` U (H, I), ``weight_hh`` W (H, H), ``bias_ih``, ``bias_hh`` (b = their sum).

    Recurrent dropout (:meth:`step_with_dropout`, Gal & Ghahramani 2016) masks :math:`s_{t-1}` in
    :math:`W s_{t-1}` only; the leak term :math:`(1 - 1/\tau) s_{t-1}` reads it unmasked.

    Args:
        input_size: I, features of :math:`x_t`.
        hidden_size: H, units of :math:`s_t`.
        tau: fixed time constants, a float >= 1 shared by all units or H floats (default 2.0).
        tau_range: (low, high) with 1 <= low <= high: sample each unit's :math:`\tau` log-uniformly instead.
        learn_tau: learn the time constants (initialised from ``tau`` or ``tau_range``).
        nonlinearity: :math:`\sigma`, ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``.

    Shape:
        - x_t: (B, I); state s: (B, H); output y_t = s_t: (B, H).

    Example::

        >>> cell = LeakyCell(8, 32, tau_range=(1.0, 50.0))
        >>> y, s = cell(torch.randn(4, 8), cell.init_state(4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        tau: float | Sequence[float] | None = None,
        tau_range: tuple[float, float] | None = None,
        learn_tau: bool = False,
        nonlinearity: str = "tanh",
    ):
        super().__init__()
        check_positive("input_size", input_size)
        check_positive("hidden_size", hidden_size)
        self._remember(
            input_size=input_size,
            hidden_size=hidden_size,
            tau=tau,
            tau_range=tau_range,
            learn_tau=learn_tau,
            nonlinearity=nonlinearity,
        )
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = hidden_size
        self.phi = get_activation(nonlinearity, HIDDEN_ACTIVATIONS)
        self.learn_tau = learn_tau
        if tau is not None and tau_range is not None:
            raise ValueError("pass either tau= (fixed time constants) or tau_range= (sampled ones), not both")
        if tau_range is not None:
            if not isinstance(tau_range, (tuple, list)) or len(tau_range) != 2:
                raise ValueError(f"tau_range must be a pair (low, high), got {tau_range!r}")
            lo, hi = tau_range
            if not 1.0 <= lo <= hi < math.inf:
                raise ValueError(f"tau_range must satisfy 1 <= low <= high, got {tau_range!r}")
        taus = torch.as_tensor(2.0 if tau is None else tau, dtype=torch.get_default_dtype()).flatten()
        if taus.numel() not in (1, hidden_size):
            raise ValueError(f"tau must be one float or {hidden_size} floats (one per unit), got {taus.numel()}")
        bad = taus[~((taus >= 1.0) & taus.isfinite())]
        if bad.numel():
            raise ValueError(
                f"every tau must be finite and >= 1 (1/tau is a leak rate in (0, 1]), got {float(bad[0]):.4g}"
            )
        self._tau_init = taus.expand(hidden_size).clone()
        self.tau_range = tau_range
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        if learn_tau:
            self.tau_raw = nn.Parameter(torch.empty(hidden_size))
        else:
            self.register_buffer("tau_fixed", torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            nn.init.uniform_(p, -k, k)
        taus = self._tau_init
        if self.tau_range is not None:
            lo, hi = self.tau_range
            u = torch.rand(self.hidden_size)
            taus = torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        with torch.no_grad():
            if self.learn_tau:
                # inverse of tau = 1 + softplus(rho); tau == 1 maps to a large negative rho
                excess = (taus - 1.0).clamp_min(1e-6)
                self.tau_raw.copy_(excess + torch.log(-torch.expm1(-excess)))
            else:
                self.tau_fixed.copy_(taus)

    @property
    def tau(self) -> Tensor:
        """Time constants (H,), each >= 1."""
        if self.learn_tau:
            return 1.0 + torch.nn.functional.softplus(self.tau_raw)
        return self.tau_fixed

    def init_state(self, batch, device=None, dtype=None) -> Tensor:
        return self._zeros(batch, self.hidden_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        # U x_t + b: (..., I) -> (..., H)
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def _step(self, xp_t: Tensor, s: Tensor, s_rec: Tensor) -> Tensor:
        """``s_rec``: the previous state as the recurrent product reads it; ``s``: as the leak reads it."""
        a = self.phi(torch.addmm(xp_t, s_rec, self.weight_hh.t()))  # sigma(b + W s_{t-1} + U x_t): (B, H)
        return torch.lerp(s, a, self.tau.reciprocal())  # s + (a - s) / tau

    def step(self, xp_t: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        s = self._step(xp_t, s, s)
        return s, s

    def step_with_dropout(self, xp_t: Tensor, s: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        s = self._step(xp_t, s, s * mask)  # the mask reaches W s only, not the leak (1 - 1/tau) s
        return s, s
