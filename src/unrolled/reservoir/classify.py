"""Echo state network sequence classification: a pooled reservoir state and a ridge readout on one-hot targets."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.reservoir.readout import RidgeReadout
from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig

__all__ = ["POOLINGS", "ESNClassifier"]


def _last(states: Tensor, lengths: Tensor) -> Tensor:
    idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, states.shape[-1])  # (B, 1, N)
    return states.gather(1, idx).squeeze(1)  # (B, N)


def _mean(states: Tensor, lengths: Tensor) -> Tensor:
    T = states.shape[1]
    mask = (torch.arange(T, device=states.device)[None, :] < lengths[:, None]).to(states.dtype)  # (B, T)
    return (states * mask.unsqueeze(-1)).sum(1) / lengths.to(states.dtype)[:, None]  # (B, N)


POOLINGS = {"last": _last, "mean": _mean}


class ESNClassifier(nn.Module):
    r"""Sequence classification with a reservoir (e.g. the UCR/UEA archive; Bianchi et al. 2021): each sequence's
    states are pooled into one vector (the last state within its length, or the mean over its length), and a ridge
    readout is fitted on one-hot class targets; the prediction is the arg-max of the readout.

    .. math::
        r = \mathrm{pool}(x_1, \dots, x_{T_b}), \qquad \hat c = \arg\max_k (W_{out} r + c)_k

    Args:
        reservoir: a :class:`ReservoirConfig` (no feedback).
        num_classes: K.
        pooling: ``"last"`` or ``"mean"``.
        ridge: the ridge penalty.

    Shape:
        B sequences, T time, I features, N units, K classes.

        - input: (B, T, I), padded after each sequence's length; lengths: (B,) (all T if not given).
        - labels: (B,) integers in [0, K).
        - output: class scores (B, K).

    Example::

        >>> clf = ESNClassifier(ReservoirConfig(units=50, input_size=2), num_classes=3)
        >>> x, y = torch.randn(12, 20, 2), torch.arange(12) % 3
        >>> clf.fit(x, y).predict(x).shape
        torch.Size([12])
    """

    def __init__(self, reservoir: ReservoirConfig, num_classes: int, pooling: str = "mean", ridge: float = 1e-3):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"ESNClassifier: expected pooling to be one of {sorted(POOLINGS)}, got {pooling!r}")
        if reservoir.feedback_size:
            raise ValueError("ESNClassifier: expected a reservoir without output feedback (feedback_size=0)")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"ESNClassifier: expected num_classes to be an int >= 2, got {num_classes!r}")
        self.reservoir = Reservoir(reservoir)
        self.pool = POOLINGS[pooling]
        self.num_classes = num_classes
        self.readout = RidgeReadout(reservoir.units, num_classes, ridge=ridge)

    def _lengths(self, input: Tensor, lengths: Tensor | None) -> Tensor:
        B, T = input.shape[:2]
        if lengths is None:
            return torch.full((B,), T, dtype=torch.long, device=input.device)
        lengths = torch.as_tensor(lengths, device=input.device)
        if lengths.shape != (B,) or bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise ValueError(f"ESNClassifier expected lengths (B,)={B} values in [1, {T}], got {lengths.tolist()}")
        return lengths.long()

    @torch.no_grad()
    def features(self, input: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The pooled reservoir states (B, N); padding (even NaN) after a sequence's length is ignored."""
        if not isinstance(input, Tensor) or input.dim() != 3:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"ESNClassifier expected input (B, T, I), got {got}")
        lengths = self._lengths(input, lengths)
        valid = torch.arange(input.shape[1], device=input.device)[None, :] < lengths[:, None]  # (B, T)
        input = input.masked_fill(~valid.unsqueeze(-1), 0.0)
        states, _ = self.reservoir(input)  # (B, T, N)
        return self.pool(states, lengths)  # (B, N)

    @torch.no_grad()
    def fit(self, input: Tensor, labels: Tensor, lengths: Tensor | None = None) -> ESNClassifier:
        labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.shape[0] != input.shape[0]:
            raise ValueError(f"ESNClassifier expected labels (B,)={input.shape[0]}, got {tuple(labels.shape)}")
        if bool((labels < 0).any()) or bool((labels >= self.num_classes).any()):
            got = labels.unique().tolist()
            raise ValueError(f"ESNClassifier expected labels in [0, {self.num_classes}), got {got}")
        feats = self.features(input, lengths)  # (B, N)
        onehot = torch.nn.functional.one_hot(labels.long(), self.num_classes).to(feats.dtype)  # (B, K)
        self.readout.fit(feats, onehot)
        return self

    @torch.no_grad()
    def forward(self, input: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.readout(self.features(input, lengths))  # (B, K)

    def predict(self, input: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self(input, lengths).argmax(-1)  # (B,)
