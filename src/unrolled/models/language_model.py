"""The recurrent language model: embedding -> Recurrent -> dropout -> softmax, with optional weight tying, a named
initialisation, and the AWD-LSTM regularisers (Merity et al. 2018), each usable alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.registry import CELLS
from unrolled.layers.embedding_dropout import embedding_dropout
from unrolled.layers.init import initialize, parse_init_name
from unrolled.layers.locked_dropout import LockedDropout
from unrolled.layers.recurrent import Recurrent
from unrolled.layers.weight_drop import weight_drop


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
        init: initialisation by name (:mod:`unrolled.layers.init`): ``default`` (each cell's own, embedding and
            softmax U(-0.1, 0.1) as pytorch/examples), ``uniform:a`` (every parameter U(-a, a), Zaremba et al.
            2014), ``orthogonal``, ``identity``, ``chrono:T``.
        last_hidden: units of the last layer (AWD-LSTM with tied weights: E, so no projection is needed).
        weight_drop: DropConnect rate on every hidden-to-hidden matrix, one mask per batch
            (:mod:`unrolled.layers.weight_drop`; Merity et al. 2018, sec. 4.1).
        embed_dropout: rate of dropping whole words from the embedding matrix (sec. 4.3).
        locked_dropout: dropout masks shared over time (variational, Gal & Ghahramani 2016; sec. 4.2) on the
            embeddings, between layers and on the last layer's output, instead of a fresh mask per step.
        input_dropout / output_dropout: rates on the embeddings / before the softmax (``None``: ``dropout``);
            ``dropout`` stays the rate between layers.
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
    init: str = "default"
    last_hidden: int | None = None
    weight_drop: float = 0.0
    embed_dropout: float = 0.0
    locked_dropout: bool = False
    input_dropout: float | None = None
    output_dropout: float | None = None

    def __post_init__(self) -> None:
        parse_init_name(self.init)  # a one-line ValueError for an unknown name
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("embed_dim", "hidden", "layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"model.{name} must be a positive integer, got {v!r}")
        for name in ("dropout", "recurrent_dropout", "zoneout", "weight_drop", "embed_dropout"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"model.{name} must be in [0, 1), got {v!r}")
        for name in ("input_dropout", "output_dropout"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v < 1.0:
                raise ValueError(f"model.{name} must be None or in [0, 1), got {v!r}")
        if self.last_hidden is not None and (not isinstance(self.last_hidden, int) or self.last_hidden < 1):
            raise ValueError(f"model.last_hidden must be None or a positive integer, got {self.last_hidden!r}")

    @property
    def stacked(self) -> bool:
        """Whether the layers are separate :class:`~unrolled.Recurrent` s (locked dropout between them, or a last
        layer of another width), as in the AWD-LSTM code."""
        return self.locked_dropout or (self.last_hidden is not None and self.layers > 1)


class RNNLanguageModel(nn.Module):
    r"""Recurrent language model (Mikolov et al. 2010; the pytorch/examples word_language_model design):

    .. math::
        e_t = E[w_t], \quad (h_t, s_t) = \mathrm{RNN}(e_t, s_{t-1}), \quad
        p(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(V\, \mathrm{drop}(h_t) + c)

    With ``tie_weights`` the softmax matrix :math:`V` is the embedding matrix :math:`E` (Press & Wolf 2017).
    The AWD-LSTM regularisers of :class:`RNNLMConfig` (weight drop, embedding dropout, locked dropout) act only in
    training; in training mode the last layer's output before and after its dropout is kept as
    ``activations = (h, drop(h))``, each (B, T, O), for AR/TAR (Merity et al. 2018, sec. 4.6).

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
        rnn_options = dict(
            recurrent_dropout=config.recurrent_dropout,
            zoneout=config.zoneout,
            residual=config.residual,
            batch_first=True,
            **config.cell_options,
        )
        if config.stacked:  # one Recurrent per layer (locked dropout between them, a last layer of its own width)
            sizes = [config.hidden] * (config.layers - 1) + [config.last_hidden or config.hidden]
            layers, width = [], config.embed_dim
            for h in sizes:
                layers.append(Recurrent(config.cell, width, h, **rnn_options))
                width = layers[-1].output_size
            self.rnn: nn.Module = nn.ModuleList(layers)
            out = width
        else:
            last = config.last_hidden or config.hidden  # one layer: last_hidden is its width
            self.rnn = Recurrent(
                config.cell, config.embed_dim, last, num_layers=config.layers, dropout=config.dropout, **rnn_options
            )
            out = self.rnn.output_size
        self.projection = nn.Linear(out, config.embed_dim) if config.tie_weights and out != config.embed_dim else None
        self.decoder = nn.Linear(config.embed_dim if config.tie_weights else out, vocab_size)
        self.drop = nn.Dropout(config.dropout)
        drop = LockedDropout if config.locked_dropout else nn.Dropout
        p_in = config.dropout if config.input_dropout is None else config.input_dropout
        p_out = config.dropout if config.output_dropout is None else config.output_dropout
        self.drop_input = self.drop if p_in == config.dropout and not config.locked_dropout else drop(p_in)
        self.drop_output = self.drop if p_out == config.dropout and not config.locked_dropout else drop(p_out)
        self.drop_between = LockedDropout(config.dropout) if config.locked_dropout else nn.Dropout(config.dropout)
        self.activations: tuple[Tensor, Tensor] | None = None
        self.reset_parameters()
        if config.init != "default":
            initialize(self, config.init)  # uniform:a covers every parameter (Zaremba et al. 2014)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight
        if config.weight_drop > 0:  # after the initialisation: it renames weight_hh to weight_hh_raw
            for rnn in self._recurrents():
                weight_drop(rnn, config.weight_drop)

    def _recurrents(self) -> list[Recurrent]:
        return list(self.rnn) if isinstance(self.rnn, nn.ModuleList) else [self.rnn]

    def reset_parameters(self) -> None:
        # as pytorch/examples word_language_model
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def init_state(self, batch: int, device=None, dtype=None) -> tuple:
        return tuple(s for rnn in self._recurrents() for s in rnn.init_state(batch, device, dtype))

    def forward(self, ids: Tensor, state: Any = None, lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        if ids.dim() != 2 or ids.dtype not in (torch.long, torch.int32, torch.int64):
            raise ValueError(
                f"RNNLanguageModel expected integer token ids of shape (B, T), got {ids.dtype} {tuple(ids.shape)}"
            )
        cfg = self.config
        e = embedding_dropout(self.embedding, ids, cfg.embed_dropout, self.training)  # (B, T) -> (B, T, E)
        e = self.drop_input(e)
        if isinstance(self.rnn, nn.ModuleList):
            h, states, at = e, [], 0
            for i, rnn in enumerate(self.rnn):
                n = rnn.num_layers * rnn.num_directions
                h, s = rnn(h, None if state is None else tuple(state[at : at + n]), lengths=lengths)  # (B, T, H_i)
                states.extend(s)
                at += n
                if i < len(self.rnn) - 1:
                    h = self.drop_between(h)
            state = tuple(states)
        else:
            h, state = self.rnn(e, state, lengths=lengths)  # (B, T, O)
        raw = h
        h = self.drop_output(h)
        self.activations = (raw, h) if self.training else None
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
