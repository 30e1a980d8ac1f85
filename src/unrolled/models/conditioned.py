"""``ConditionedDecoder``: vector-to-sequence, a decoder conditioned on a class or a feature vector."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from unrolled.models.bridge import Bridge, state_parts
from unrolled.models.decoder import Decoder

__all__ = ["CONDITIONINGS", "ConditionedDecoder"]

CONDITIONINGS = {"init": "init", "every_step": "every_step"}  # conditioning name -> decoder context


class ConditionedDecoder(nn.Module):
    r"""A decoder conditioned on a fixed vector :math:`v` (Goodfellow et al., *Deep Learning* §10.2.4; e.g. a
    name given its language, a caption given image features):

    .. math::
        v = E_c[\text{class}] \text{ or the given features}, \qquad
        \text{init: } h_0 = \tanh(W v + b),\ x_t = e_t; \qquad \text{every\_step: } h_0 = 0,\ x_t = [e_t; v]

    Args:
        vocab_size: V. num_classes: N (a class embedding of width F), or None to take feature vectors of width F.
        feature_size: F. embed_dim: E. hidden: H. layers: L. cell: a cell registry name.
        conditioning: ``init`` or ``every_step``. dropout: as :class:`~unrolled.models.decoder.Decoder`.

    Shape:
        - condition: (B,) class ids, or (B, F) features; tokens: (B, T); logits: (B, T, V).

    Example::

        >>> model = ConditionedDecoder(20, num_classes=3, feature_size=4, embed_dim=8, hidden=16)
        >>> logits = model(torch.tensor([0, 2]), torch.randint(0, 20, (2, 6)))
        >>> logits.shape
        torch.Size([2, 6, 20])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int | None = None,
        feature_size: int = 16,
        embed_dim: int = 32,
        hidden: int = 64,
        layers: int = 1,
        cell: str = "lstm",
        conditioning: str = "init",
        dropout: float = 0.0,
        **cell_options: Any,
    ):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {sorted(CONDITIONINGS)}, got {conditioning!r}")
        self.num_classes, self.feature_size, self.conditioning = num_classes, feature_size, conditioning
        self.classes = nn.Embedding(num_classes, feature_size) if num_classes is not None else None
        self.decoder = Decoder(
            vocab_size,
            embed_dim,
            hidden,
            layers=layers,
            cell=cell,
            context=CONDITIONINGS[conditioning],
            summary_size=feature_size,
            dropout=dropout,
            **cell_options,
        )
        dec_parts = tuple(t.shape[-1] for t in state_parts(self.decoder.rnn.cells[0].init_state(1)))
        self.bridge = Bridge((feature_size,), dec_parts, 1, layers, 1) if conditioning == "init" else None

    def start(self, condition: Tensor) -> dict:
        """The decoding state for a batch of conditions (class ids (B,) or features (B, F))."""
        if self.classes is not None:
            if condition.dim() != 1 or condition.dtype not in (torch.long, torch.int32):
                raise ValueError(
                    f"ConditionedDecoder expected class ids (B,), got {condition.dtype} {tuple(condition.shape)}"
                )
            v = self.classes(condition)  # (B,) -> (B, F)
        else:
            if condition.dim() != 2 or condition.shape[1] != self.feature_size:
                raise ValueError(
                    f"ConditionedDecoder expected features (B, F={self.feature_size}), got {tuple(condition.shape)}"
                )
            v = condition
        if self.bridge is not None:
            rnn = self.bridge((v,))  # h_0 = tanh(W v + b) in every layer
        else:
            rnn = self.decoder.rnn.init_state(v.shape[0], v.device, v.dtype)
        return self.decoder.start(rnn, v)

    def forward(self, condition: Tensor, tokens: Tensor, teacher_forcing: float = 1.0) -> Tensor:
        logits, _ = self.decoder(tokens, self.start(condition), teacher_forcing=teacher_forcing)
        return logits  # (B, T, V)

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """One decoding step for :mod:`unrolled.decode`: tokens (B,) -> logits (B, V)."""
        return self.decoder.step(tokens, state)
