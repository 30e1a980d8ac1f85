"""The recurrent language model: embedding -> Recurrent -> dropout -> softmax, with optional weight tying, a named
initialisation, the AWD-LSTM regularisers (Merity et al. 2018), each usable alone, and a full or adaptive softmax
(Grave et al. 2017)."""

from __future__ import annotations

import math
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
from unrolled.layers.softmax_output import SOFTMAXES, default_cutoffs
from unrolled.layers.weight_drop import weight_drop


def check_softmax_options(softmax: Any, cutoffs: Any, div_value: Any, tie_weights: bool) -> None:
    """One-line ``ValueError`` unless ``softmax``, ``cutoffs`` and ``div_value`` are valid together (the range of
    the cutoffs against the vocabulary is checked when the model is built)."""
    if softmax not in SOFTMAXES:
        raise ValueError(f"model.softmax must be one of {', '.join(SOFTMAXES)}, got {softmax!r}")
    if cutoffs is not None:
        ok = isinstance(cutoffs, (tuple, list)) and len(cutoffs) > 0
        ok = ok and all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in cutoffs)
        if not ok or any(a >= b for a, b in zip(cutoffs, cutoffs[1:], strict=False)):
            raise ValueError(f"model.cutoffs must be increasing positive integers (e.g. 2000,6000), got {cutoffs!r}")
    is_number = isinstance(div_value, (int, float)) and not isinstance(div_value, bool)
    if not is_number or not 1.0 <= div_value < math.inf:
        raise ValueError(f"model.div_value must be a finite number >= 1, got {div_value!r}")
    if softmax == "adaptive" and tie_weights:
        raise ValueError(
            "model.tie_weights cannot be used with model.softmax = 'adaptive' (its head and tail clusters have "
            "their own weights)"
        )
    if softmax != "adaptive" and cutoffs is not None:
        raise ValueError(f"model.cutoffs apply only to model.softmax = 'adaptive', got softmax {softmax!r}")


@dataclass
class RNNLMConfig:
    r"""Architecture of :class:`RNNLanguageModel` (checked when built).

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
        softmax: ``full`` or ``adaptive`` (Grave et al. 2017; see :class:`RNNLanguageModel`). The adaptive softmax
            pays off only when the token ids are frequency-ordered (id 0 the most frequent):
            :class:`~unrolled.text.Vocabulary` orders them so (the specials first, then most frequent first).
        cutoffs: adaptive softmax: increasing ids :math:`0 < c_1 < \dots < c_n < V` splitting the vocabulary into
            the head's shortlist :math:`[0, c_1)` and tail clusters :math:`[c_i, c_{i+1})`; ``None``:
            :func:`default_cutoffs` ``(V // 5, V // 2)``.
        div_value: adaptive softmax: tail cluster :math:`i` (1-based) projects the hidden state to
            :math:`\lfloor d / \mathrm{div}^i \rfloor` units first (Grave et al. 2017, sec. 4.3); default 4.
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
    softmax: str = "full"
    cutoffs: tuple[int, ...] | None = None
    div_value: float = 4.0

    def __post_init__(self) -> None:
        check_softmax_options(self.softmax, self.cutoffs, self.div_value, self.tie_weights)
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

    def resolved_cutoffs(self, vocab_size: int, width: int) -> tuple[int, ...]:
        """The adaptive softmax's cutoffs for ``vocab_size`` words and a ``width``-wide input, checked against both
        (one-line ``ValueError``)."""
        cutoffs = default_cutoffs(vocab_size) if self.cutoffs is None else tuple(self.cutoffs)
        if cutoffs[-1] >= vocab_size:
            raise ValueError(f"model.cutoffs must all be below the vocabulary size {vocab_size}, got {list(cutoffs)}")
        smallest = int(width // self.div_value ** len(cutoffs))
        if smallest < 1:
            raise ValueError(
                f"model.div_value {self.div_value} leaves the last of {len(cutoffs)} tail clusters of a {width}-wide "
                f"output {width} // {self.div_value}^{len(cutoffs)} = 0 units: use fewer cutoffs or a smaller div_value"
            )
        return cutoffs

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

    With ``softmax="adaptive"`` (Grave et al. 2017, "Efficient softmax approximation for GPUs";
    ``torch.nn.AdaptiveLogSoftmaxWithLoss``) the frequency-ordered vocabulary is cut at
    :math:`c_1 < \dots < c_n` into a shortlist :math:`\mathcal V_h = [0, c_1)` and clusters
    :math:`\mathcal V_i = [c_i, c_{i+1})` (:math:`c_{n+1} = V`). The head scores the shortlist and one entry per
    cluster; cluster :math:`i` first projects :math:`h` (width :math:`d`) down to
    :math:`\lfloor d / \mathrm{div}^i \rfloor` units (sec. 4.3: rare words need less capacity):

    .. math::
        p_h = \mathrm{softmax}(H h + b) \in \Delta^{c_1 + n}, \qquad
        p(w \mid h) = \begin{cases} p_h[w] & w \in \mathcal V_h \\
            p_h[c_1 + i - 1]\; \mathrm{softmax}(T_i P_i h)[w - c_i] & w \in \mathcal V_i \end{cases}

    with :math:`P_i \in \mathbb R^{\lfloor d/\mathrm{div}^i \rfloor \times d}`,
    :math:`T_i \in \mathbb R^{|\mathcal V_i| \times \lfloor d/\mathrm{div}^i \rfloor}`. A training step scores
    each target with the head and only its own cluster, so most tokens (those in the shortlist) never touch the
    tails. The probabilities are exact (a proper distribution over all V words, not an approximation of the full
    softmax's values): perplexities of the two are comparable.

    ``forward`` returns per-position *scores* over the vocabulary: logits for the full softmax, log-probabilities
    for the adaptive one (the whole (B, T, V) distribution, computed cluster by cluster). Either is normalised by
    a log-softmax (``log_softmax`` of log-probabilities returns them), so cross-entropy, sampling and beam search
    read both alike. Given ``targets``, ``forward`` returns their log-probabilities (B, T) instead, without forming
    the (B, T, V) distribution: the fast path of the adaptive softmax, used by :meth:`loss` and the LM task.

    Args:
        vocab_size: V. config: an :class:`RNNLMConfig`.

    Shape:
        - ids: (B, T) token ids; scores: (B, T, V) (logits, or log-probabilities with the adaptive softmax);
          targets: (B, T) -> target log-probabilities (B, T); state as returned by :class:`~unrolled.Recurrent`.
        - step: tokens (B,) -> scores (B, V); prime: ids (B, T) -> scores of the last position (B, V);
          log_prob: ids (B, T) -> log-probabilities (B, T, V).

    Example::

        >>> lm = RNNLanguageModel(50, RNNLMConfig(hidden=32, embed_dim=16, layers=1))
        >>> logits, state = lm(torch.randint(0, 50, (4, 12)))
        >>> ada = RNNLanguageModel(50, RNNLMConfig(hidden=32, embed_dim=16, layers=1, softmax="adaptive",
        ...                                         cutoffs=(10, 25)))
        >>> loss, state = ada.loss(torch.randint(0, 50, (4, 12)), torch.randint(0, 50, (4, 12)))
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
        width = config.embed_dim if config.tie_weights else out  # D, the softmax's input
        cutoffs = config.resolved_cutoffs(vocab_size, width) if config.softmax == "adaptive" else ()
        self.decoder: nn.Module = SOFTMAXES[config.softmax].build(width, vocab_size, cutoffs, config.div_value)
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
        self.decoder.reset_output()

    def init_state(self, batch: int, device=None, dtype=None) -> tuple:
        return tuple(s for rnn in self._recurrents() for s in rnn.init_state(batch, device, dtype))

    def forward(
        self, ids: Tensor, state: Any = None, lengths: Tensor | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, tuple]:
        """``(scores (B, T, V), state)``, or with ``targets`` (B, T) ``(log p(targets) (B, T), state)``."""
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
        B, T, D = h.shape
        if targets is not None:
            if targets.shape != ids.shape:
                raise ValueError(f"expected targets of the ids' shape {tuple(ids.shape)}, got {tuple(targets.shape)}")
            return self.decoder.target_log_prob(h.reshape(B * T, D), targets.reshape(-1)).view(B, T), state
        return self.decoder.scores(h.reshape(B * T, D)).view(B, T, -1), state  # (B, T, V)

    # --- decoding interface used by unrolled.decode --------------------------------------------------------
    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One token per sequence: tokens (B,) -> scores (B, V) (logits, or log-probabilities if adaptive)."""
        scores, state = self.forward(tokens.unsqueeze(1), state)  # (B, 1, V)
        return scores[:, -1], state

    def prime(self, ids: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Feed a whole prefix at once: ids (B, T) -> scores of the last position (B, V)."""
        scores, state = self.forward(ids, state)
        return scores[:, -1], state

    def log_prob(self, ids: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """The full next-token distribution: ids (B, T) -> log-probabilities (B, T, V) (each row's exp sums to 1)."""
        scores, state = self.forward(ids, state)  # (B, T, V)
        return F.log_softmax(scores, dim=-1), state

    def loss(self, ids: Tensor, targets: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Mean cross-entropy in nats per token, and the new state (the adaptive softmax scores only the targets)."""
        logp, state = self.forward(ids, state, targets=targets)  # (B, T)
        return -logp.mean(), state
