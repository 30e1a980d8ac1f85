"""Imputation of gaps in series with a bidirectional RNN (past and future context), trained by hiding observed
points."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.layers.recurrent import Recurrent

__all__ = ["ImputerConfig", "RNNImputer"]


@dataclass
class ImputerConfig:
    """The imputer's shape (checked when built).

    Args:
        input_size: D, the series' columns. hidden_size: H per direction. cell: any registered cell name.
        num_layers: stacked bidirectional layers. mask_rate: the fraction of observed points hidden per training
        step. max_gap: hidden points come in runs of 1..max_gap steps (so the model learns to fill gaps, not only
        isolated points).
    """

    input_size: int = 1
    hidden_size: int = 32
    cell: str = "gru"
    num_layers: int = 1
    mask_rate: float = 0.2
    max_gap: int = 1

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden_size", "num_layers", "max_gap"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"imputer: expected {name} to be an int >= 1, got {v!r}")
        if not isinstance(self.mask_rate, (int, float)) or not 0 < self.mask_rate < 1:
            raise ValueError(f"imputer: expected mask_rate in (0, 1), got {self.mask_rate!r}")


class RNNImputer(nn.Module):
    r"""A bidirectional recurrent imputer (in the spirit of BRITS, Cao et al. 2018, without its decay terms).

    Every step receives the value where observed (0 where missing) and the observation mask
    :math:`m_t \in \{0, 1\}^D`; a bidirectional :class:`~unrolled.layers.Recurrent` reads the series both ways and a
    linear head reconstructs every value from the two directions' states,

    .. math::
        \overrightarrow{h}_t, \overleftarrow{h}_t = \mathrm{BiRNN}([m \odot x; m])_t, \qquad
        \hat x_t = W [\overrightarrow{h}_t; \overleftarrow{h}_t] + b,

    so a missing value is estimated from the past and the future around it. Training (:meth:`loss`) hides random
    runs of observed points (they enter as missing) and scores the reconstruction there only, the denoising
    objective of masked modelling; :meth:`impute` keeps the observed values and fills the rest.

    Args:
        config: an :class:`ImputerConfig`.

    Shape:
        B batch, T time, D columns.

        - input: (B, T, D) with NaN where missing.
        - output: reconstruction (B, T, D) (of every point); :meth:`impute`: (B, T, D) without NaN.

    Example::

        >>> imp = RNNImputer(ImputerConfig(input_size=1, hidden_size=8))
        >>> x = torch.randn(2, 30, 1)
        >>> x[0, 10:14] = float("nan")
        >>> bool(imp.impute(x).isnan().any())
        False
    """

    def __init__(self, config: ImputerConfig):
        super().__init__()
        self.config = c = config
        self.rnn = Recurrent(c.cell, 2 * c.input_size, c.hidden_size, num_layers=c.num_layers, bidirectional=True)
        self.head = nn.Linear(2 * c.hidden_size, c.input_size)

    def _check(self, x: Tensor) -> Tensor:
        D = self.config.input_size
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != D:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"imputer expected a series (B, T, D={D}) with NaN where missing, got {got}")
        if torch.isinf(x).any():
            raise ValueError("imputer got infinite values; expected numbers, or NaN where missing")
        observed = ~torch.isnan(x)  # (B, T, D)
        if not observed.any(dim=(1, 2)).all():
            raise ValueError("imputer got a series with no observed value at all; nothing to impute from")
        return observed

    def forward(self, x: Tensor, observed: Tensor | None = None) -> Tensor:
        """Reconstruct every point of ``x`` (B, T, D) (NaN where missing; ``observed`` overrides the mask)."""
        obs = self._check(x) if observed is None else observed & ~torch.isnan(x)
        m = obs.to(x.dtype)  # (B, T, D)
        inp = torch.cat([torch.where(obs, x, torch.zeros_like(x)), m], dim=-1)  # (B, T, 2D)
        out, _ = self.rnn(inp)  # (B, T, 2H)
        return self.head(out)  # (B, T, D)

    def hide(self, observed: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A random subset of the observed points (B, T, D) to hide: runs of 1..max_gap steps starting at a rate
        chosen so that about ``mask_rate`` of the points are hidden."""
        c = self.config
        B, T, D = observed.shape
        mean_run = (c.max_gap + 1) / 2
        starts = torch.rand(B, T, D, generator=generator) < c.mask_rate / mean_run  # (B, T, D)
        lengths = torch.randint(1, c.max_gap + 1, (B, T, D), generator=generator)  # (B, T, D)
        hidden = torch.zeros(B, T, D, dtype=torch.bool)
        for k in range(c.max_gap):  # a start at t hides t..t+len-1
            hit = starts & (lengths > k)
            hidden[:, k:] |= hit[:, : T - k]
        return hidden.to(observed.device) & observed

    def loss(self, x: Tensor, generator: torch.Generator | None = None, hidden: Tensor | None = None) -> Tensor:
        """MSE of the reconstruction at hidden observed points (drawn by :meth:`hide` unless given)."""
        observed = self._check(x)
        if hidden is None:
            hidden = self.hide(observed, generator)
        if hidden.shape != x.shape or bool((hidden & ~observed).any()):
            raise ValueError("imputer: expected hidden points (B, T, D) among the observed ones")
        if not hidden.any():
            return x.new_zeros(())
        recon = self(x, observed & ~hidden)  # (B, T, D)
        return F.mse_loss(recon[hidden], x[hidden])

    @torch.no_grad()
    def impute(self, x: Tensor) -> Tensor:
        """``x`` with every NaN replaced by the reconstruction; observed values unchanged."""
        observed = self._check(x)
        return torch.where(observed, x, self(x, observed))
