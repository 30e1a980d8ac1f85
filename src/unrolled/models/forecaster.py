"""Recurrent forecasters on any cell: one-step, recursive multi-step and direct (encoder-decoder) multi-horizon
forecasting, with an optional Gaussian likelihood head for intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.layers.recurrent import Recurrent

__all__ = ["STRATEGIES", "Forecaster", "ForecasterConfig", "ForecastOutput"]

STRATEGIES = ("recursive", "direct")


@dataclass
class ForecasterConfig:
    """The forecaster's shape and strategy (checked when built).

    Args:
        input_size: F, the columns of each input step (targets first, then past covariates).
        output_size: O, the target columns (the first O input columns for ``recursive``).
        hidden_size: H. cell: any registered cell name. num_layers: stacked layers. dropout: between layers.
        horizon: the number of steps forecast at once (``direct``) or trained on (``recursive``).
        strategy: ``"recursive"`` (one-step model fed its own predictions) or ``"direct"`` (encoder-decoder that
            emits all ``horizon`` steps at once).
        future_size: C, covariates known at the target times (``direct`` only; 0 for none).
        gaussian: predict a mean and a log-variance per step, trained by the Gaussian negative log-likelihood.
    """

    input_size: int = 1
    output_size: int = 1
    hidden_size: int = 64
    cell: str = "lstm"
    num_layers: int = 1
    dropout: float = 0.0
    horizon: int = 1
    strategy: str = "recursive"
    future_size: int = 0
    gaussian: bool = False

    def __post_init__(self) -> None:
        for name in ("input_size", "output_size", "hidden_size", "num_layers", "horizon"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"forecaster: expected {name} to be an int >= 1, got {v!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"forecaster: expected strategy to be one of {list(STRATEGIES)}, got {self.strategy!r}")
        if self.output_size > self.input_size:
            raise ValueError(
                f"forecaster: expected output_size <= input_size (targets are input columns), got "
                f"{self.output_size} > {self.input_size}"
            )
        if self.strategy == "recursive" and self.input_size != self.output_size:
            raise ValueError(
                "forecaster: the recursive strategy feeds predictions back as inputs, so it expects input_size == "
                f"output_size (no covariates), got {self.input_size} and {self.output_size}; use strategy=direct"
            )
        if self.future_size and self.strategy != "direct":
            raise ValueError("forecaster: future covariates (future_size > 0) need strategy=direct")


@dataclass
class ForecastOutput:
    """Predictions over the horizon. Shape: mean (B, H', O); log_var (B, H', O) or None (H' forecast steps)."""

    mean: Tensor
    log_var: Tensor | None

    def std(self) -> Tensor | None:
        return None if self.log_var is None else torch.exp(0.5 * self.log_var)


class Forecaster(nn.Module):
    r"""A recurrent forecaster (any cell through :class:`~unrolled.layers.Recurrent`).

    *Recursive* (one-step model, Box & Jenkins style iterated forecasts): the encoder reads the window
    :math:`x_{t-W}, \dots, x_{t-1}` and a linear head predicts :math:`\hat x_t = g(h_{t-1})`; for a horizon
    :math:`H > 1` each prediction is fed back as the next input,

    .. math::
        h_{t+k} = \mathrm{cell}(\hat x_{t+k}, h_{t+k-1}), \qquad \hat x_{t+k+1} = g(h_{t+k}),

    so errors compound with the horizon (the drift measured by ``benchmarks/forecasting.py``). Training is
    teacher-forced: the true values are fed over the horizon and every step's one-step prediction is scored.

    *Direct* (encoder-decoder, Sutskever et al. 2014; multi-horizon as in MQ-RNN, Wen et al. 2017): the encoder's
    final state starts a decoder that runs H steps on the one-hot step index (and the known future covariates),
    emitting all H predictions at once with no feedback of predictions.

    With ``gaussian`` the head outputs a mean :math:`\mu` and :math:`\log \sigma^2` per step, trained by the Gaussian
    negative log-likelihood :math:`\frac12 (\log \sigma^2 + (y - \mu)^2 / \sigma^2)` (+ const; Nix & Weigend 1994,
    as in DeepAR, Salinas et al. 2020); intervals are :math:`\mu \pm z \sigma`. Without it the loss is the MSE.

    Args:
        config: a :class:`ForecasterConfig`.

    Shape:
        B batch, W window, H horizon, F input columns, O target columns, C future covariates.

        - input: (B, W, F); targets: (B, H, O); future: (B, H, C).
        - output: :class:`ForecastOutput` with mean (B, H, O) (and log_var).

    Example::

        >>> f = Forecaster(ForecasterConfig(input_size=1, output_size=1, hidden_size=16, horizon=5))
        >>> x, y = torch.randn(8, 20, 1), torch.randn(8, 5, 1)
        >>> loss = f.loss(x, y)
        >>> f.forecast(x, horizon=5).mean.shape
        torch.Size([8, 5, 1])
    """

    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = c = config
        self.encoder = Recurrent(c.cell, c.input_size, c.hidden_size, num_layers=c.num_layers, dropout=c.dropout)
        if c.strategy == "direct":
            self.decoder = Recurrent(
                c.cell, c.horizon + c.future_size, c.hidden_size, num_layers=c.num_layers, dropout=c.dropout
            )
        out = c.output_size * (2 if c.gaussian else 1)
        self.head = nn.Linear(c.hidden_size, out)

    def _split(self, z: Tensor) -> ForecastOutput:
        if not self.config.gaussian:
            return ForecastOutput(z, None)
        mean, log_var = z.chunk(2, dim=-1)  # (..., O) each
        return ForecastOutput(mean, log_var.clamp(-15.0, 15.0))

    def _check(self, input: Tensor, future: Tensor | None, horizon: int) -> None:
        c = self.config
        if not isinstance(input, Tensor) or input.dim() != 3 or input.shape[-1] != c.input_size:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"forecaster expected input (B, W, F={c.input_size}), got {got}")
        if not torch.isfinite(input).all():
            raise ValueError("forecaster got NaN or infinite values in its input window; fill gaps first (impute)")
        if c.future_size:
            if future is None or tuple(future.shape) != (input.shape[0], horizon, c.future_size):
                got = None if future is None else tuple(future.shape)
                raise ValueError(
                    f"forecaster expected future covariates (B, H, C)={(input.shape[0], horizon, c.future_size)}, "
                    f"got {got}"
                )
        if c.strategy == "direct" and horizon != c.horizon:
            raise ValueError(f"forecaster: a direct model forecasts exactly horizon={c.horizon} steps, got {horizon}")

    def _direct(self, input: Tensor, future: Tensor | None) -> Tensor:
        c = self.config
        B = input.shape[0]
        _, state = self.encoder(input)  # encoder summary of the window
        steps = torch.eye(c.horizon, dtype=input.dtype, device=input.device).expand(B, -1, -1)  # (B, H, H)
        dec_in = steps if future is None else torch.cat([steps, future], dim=-1)  # (B, H, H + C)
        out, _ = self.decoder(dec_in, state)  # (B, H, hidden)
        return self.head(out)  # (B, H, O or 2O)

    def forward(self, input: Tensor, targets: Tensor | None = None, future: Tensor | None = None) -> ForecastOutput:
        """Training-time predictions over the horizon: teacher-forced one-step predictions (recursive) or the
        direct forecast. ``targets`` (B, H, O) is needed by the recursive strategy (it is fed in)."""
        c = self.config
        if c.strategy == "direct":
            self._check(input, future, c.horizon)
            return self._split(self._direct(input, future))
        if targets is None:
            raise ValueError("forecaster: the recursive strategy's forward needs targets (B, H, O) to teacher-force")
        H = targets.shape[1]
        self._check(input, None, H)
        seq = torch.cat([input, targets[:, :-1]], dim=1)  # (B, W + H - 1, F)
        out, _ = self.encoder(seq)  # (B, W + H - 1, hidden)
        return self._split(self.head(out[:, input.shape[1] - 1 :]))  # (B, H, O or 2O)

    def loss(self, input: Tensor, targets: Tensor, future: Tensor | None = None) -> Tensor:
        """Mean Gaussian NLL (with ``gaussian``, constant :math:`\\frac12 \\log 2\\pi` included) or MSE."""
        c = self.config
        if not isinstance(targets, Tensor) or targets.dim() != 3 or targets.shape[0] != input.shape[0]:
            got = tuple(targets.shape) if isinstance(targets, Tensor) else type(targets).__name__
            raise ValueError(f"forecaster expected targets (B, H, O={c.output_size}), got {got}")
        if targets.shape[-1] != c.output_size or (c.strategy == "direct" and targets.shape[1] != c.horizon):
            raise ValueError(
                f"forecaster expected targets (B, H={c.horizon}, O={c.output_size}), got {tuple(targets.shape)}"
            )
        if not torch.isfinite(targets).all():
            raise ValueError("forecaster got NaN or infinite values in its targets; fill gaps first (impute)")
        out = self(input, targets, future)
        if out.log_var is None:
            return F.mse_loss(out.mean, targets)
        return F.gaussian_nll_loss(out.mean, targets, out.log_var.exp(), full=True, eps=1e-12)

    @torch.no_grad()
    def forecast(self, input: Tensor, horizon: int | None = None, future: Tensor | None = None) -> ForecastOutput:
        """Forecast ``horizon`` steps after the window (default: the configured horizon). Recursive models feed
        back their means (the variance of a recursive forecast is the one-step variance of each step)."""
        c = self.config
        H = c.horizon if horizon is None else horizon
        if isinstance(H, bool) or not isinstance(H, int) or H < 1:
            raise ValueError(f"forecaster expected horizon to be an int >= 1, got {H!r}")
        self._check(input, future, H)
        if c.strategy == "direct":
            return self._split(self._direct(input, future))
        out, state = self.encoder(input)  # (B, W, hidden)
        z = self.head(out[:, -1:])  # (B, 1, O or 2O)
        preds = [z]
        for _ in range(H - 1):
            x = self._split(z).mean  # (B, 1, O): the prediction becomes the next input
            out, state = self.encoder(x, state)  # (B, 1, hidden)
            z = self.head(out)
            preds.append(z)
        return self._split(torch.cat(preds, dim=1))  # (B, H, O or 2O)

    @staticmethod
    def interval(out: ForecastOutput, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """The central ``level`` interval :math:`\\mu \\pm z \\sigma` of a Gaussian forecast."""
        if out.log_var is None:
            raise ValueError("forecaster: intervals need a gaussian head (ForecasterConfig(gaussian=True))")
        if not 0 < level < 1:
            raise ValueError(f"forecaster expected level in (0, 1), got {level!r}")
        z = math.sqrt(2.0) * torch.erfinv(torch.tensor(level, dtype=torch.float64)).item()
        std = out.std()
        return out.mean - z * std, out.mean + z * std
