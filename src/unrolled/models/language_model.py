"""The recurrent language model: embedding -> Recurrent -> dropout -> softmax, with optional weight tying."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.registry import CELLS
from unrolled.layers.recurrent import Recurrent


@dataclass
class RNNLMConfig:
    """Architecture of :class:`RNNLanguageModel` (checked when built).

    Args:
        cell: a cell registry name (lstm, gru, elman, leaky, ln_lstm, ...).
        embed_dim: E, width of the token embeddings.
        hidden: H, hidden units per layer. layers: L, stacked layers.
        dropout: dropout on embeddings, between layers and before the softmax (Zaremba et al. 2014).
        tie_weights: share the embedding matrix with the softmax (Press & Wolf 2017; Inan et al. 2017); when the
            recurrent output width differs from E, a linear projection O -> E is inserted before the softmax.
        recurrent_dropout, zoneout, residual: passed to :class:`~unrolled.Recurrent`.
        cell_options: extra keyword arguments for the cell (e.g. ``{"reset": "before"}``).
    """

    cell: str = "lstm"
    embed_dim: int = 128
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = False
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    residual: bool = False
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("embed_dim", "hidden", "layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"model.{name} must be a positive integer, got {v!r}")
        for name in ("dropout", "recurrent_dropout", "zoneout"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"model.{name} must be in [0, 1), got {v!r}")


class RNNLanguageModel(nn.Module):
    r"""Recurrent language model (Mikolov et al. 2010; the pytorch/examples word_language_model design):

    .. math::
        e_t = E[w_t], \quad (h_t, s_t) = \mathrm{RNN}(e_t, s_{t-1}), \quad
        p(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(V\, \mathrm{drop}(h_t) + c)

    With ``tie_weights`` the softmax matrix :math:`V` is the embedding matrix :math:`E` (Press & Wolf 2017).

    Args:
        vocab_size: V. config: an :class:`RNNLMConfig`.

    Shape:
        - ids: (B, T) token ids; logits: (B, T, V); state as returned by :class:`~unrolled.Recurrent`.

    Example::

        >>> lm = RNNLanguageModel(50, RNNLMConfig(hidden=32, embed_dim=16, layers=1))
        >>> logits, state = lm(torch.randint(0, 50, (4, 12)))
    """

    def __init__(self, vocab_size: int, config: RNNLMConfig | None = None):
        super().__init__()
        config = config or RNNLMConfig()
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
        self.vocab_size, self.config = vocab_size, config
        self.embedding = nn.Embedding(vocab_size, config.embed_dim)
        self.rnn = Recurrent(
            config.cell,
            config.embed_dim,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout,
            recurrent_dropout=config.recurrent_dropout,
            zoneout=config.zoneout,
            residual=config.residual,
            batch_first=True,
            **config.cell_options,
        )
        out = self.rnn.output_size
        self.projection = nn.Linear(out, config.embed_dim) if config.tie_weights and out != config.embed_dim else None
        self.decoder = nn.Linear(config.embed_dim if config.tie_weights else out, vocab_size)
        self.drop = nn.Dropout(config.dropout)
        self.reset_parameters()
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    def reset_parameters(self) -> None:
        # as pytorch/examples word_language_model
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def init_state(self, batch: int, device=None, dtype=None) -> tuple:
        return self.rnn.init_state(batch, device, dtype)

    def forward(self, ids: Tensor, state: Any = None, lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        if ids.dim() != 2 or ids.dtype not in (torch.long, torch.int32, torch.int64):
            raise ValueError(
                f"RNNLanguageModel expected integer token ids of shape (B, T), got {ids.dtype} {tuple(ids.shape)}"
            )
        e = self.drop(self.embedding(ids))  # (B, T) -> (B, T, E)
        h, state = self.rnn(e, state, lengths=lengths)  # (B, T, O)
        h = self.drop(h)
        if self.projection is not None:
            h = self.projection(h)  # (B, T, O) -> (B, T, E)
        return self.decoder(h), state  # (B, T, V)

    # --- decoding interface used by unrolled.decode --------------------------------------------------------
    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One token per sequence: tokens (B,) -> logits (B, V)."""
        logits, state = self.forward(tokens.unsqueeze(1), state)  # (B, 1, V)
        return logits[:, -1], state

    def prime(self, ids: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Feed a whole prefix at once: ids (B, T) -> logits of the last position (B, V)."""
        logits, state = self.forward(ids, state)
        return logits[:, -1], state

    def loss(self, ids: Tensor, targets: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Mean cross-entropy in nats per token, and the new state."""
        logits, state = self.forward(ids, state)
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1)), state
