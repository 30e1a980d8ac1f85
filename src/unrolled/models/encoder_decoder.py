"""The encoder-decoder (sequence-to-sequence) model: a recurrent encoder, a bridge, a conditioned decoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.registry import CELLS
from unrolled.layers.attention import SCORES
from unrolled.layers.recurrent import Recurrent
from unrolled.models.bridge import Bridge, state_parts
from unrolled.models.contexts import CONTEXTS
from unrolled.models.decoder import Decoder

__all__ = ["EncoderDecoder", "Seq2SeqConfig"]


@dataclass
class Seq2SeqConfig:
    """Architecture of :class:`EncoderDecoder` (checked when built).

    Args:
        cell: a cell registry name, for encoder and decoder.
        embed_dim: E, width of source and target embeddings.
        hidden: H_e, encoder units per direction. layers: L_e, encoder layers.
        bidirectional: a bidirectional encoder (default True; Bahdanau et al. 2015).
        decoder_hidden: H_d (default the encoder width D·H_e, so that the dot scores apply).
        decoder_layers: L_d (default L_e).
        context: ``init`` (C as the initial state), ``every_step`` (C as an extra input) or ``attention``.
        attention: a score of :data:`~unrolled.layers.attention.SCORES`, or ``none`` (only with a context other
            than ``attention``).
        attention_hidden: A, the additive score's hidden width (default the key width).
        max_source_length: S_max of the location score.
        dropout: on embeddings, between layers and before the softmax.
        cell_options: extra keyword arguments for the cells.
    """

    cell: str = "lstm"
    embed_dim: int = 64
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = True
    decoder_hidden: int | None = None
    decoder_layers: int | None = None
    context: str = "attention"
    attention: str = "general"
    attention_hidden: int | None = None
    max_source_length: int = 100
    dropout: float = 0.1
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("embed_dim", "hidden", "layers", "max_source_length"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"model.{name} must be a positive integer, got {v!r}")
        for name in ("decoder_hidden", "decoder_layers", "attention_hidden"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"model.{name} must be a positive integer or null, got {v!r}")
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"model.bidirectional must be true or false, got {self.bidirectional!r}")
        if self.context not in CONTEXTS:
            raise ValueError(f"model.context must be one of {sorted(CONTEXTS)}, got {self.context!r}")
        if self.attention != "none" and self.attention not in SCORES:
            raise ValueError(f"model.attention must be one of {sorted(SCORES) + ['none']}, got {self.attention!r}")
        if self.context == "attention" and self.attention == "none":
            raise ValueError(
                "model.attention is 'none' but model.context is 'attention'; use context init or every_step"
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
        width = self.hidden * (2 if self.bidirectional else 1)
        if self.attention in ("dot", "scaled_dot") and self.decoder_hidden not in (None, width):
            raise ValueError(
                f"model.decoder_hidden must equal the encoder width {width} for the {self.attention} score, "
                f"got {self.decoder_hidden}"
            )
        if not isinstance(self.cell_options, dict):
            raise ValueError(f"model.cell_options must be a table, got {self.cell_options!r}")


class EncoderDecoder(nn.Module):
    r"""Encoder-decoder for sequence-to-sequence tasks (Sutskever et al. 2014; Cho et al. 2014; Bahdanau et al.
    2015; Luong et al. 2015).

    .. math::
        \bar h_{1..S}, s^{enc} = \mathrm{Encoder}(E_x[x_{1..S}]), \quad
        C = [\overrightarrow{h}_S; \overleftarrow{h}_1], \quad s_0 = \mathrm{Bridge}(s^{enc}), \quad
        p(y_t \mid y_{<t}, x) = \mathrm{Decoder}(y_{t-1}, s_{t-1}; C, \bar h)

    The encoder is a :class:`~unrolled.Recurrent` (bidirectional by default) run with the source lengths; C is the
    top layer's final hidden state of each direction; the decoder (:class:`~unrolled.models.decoder.Decoder`) uses
    C as configured (``context``). The bridge is the identity when encoder and decoder states agree.

    Args:
        src_vocab: V_x. tgt_vocab: V_y. config: a :class:`Seq2SeqConfig`.

    Shape:
        S source length, T target length, V_y target vocabulary.

        - src: (B, S) ids; src_lengths: (B,); tgt_in: (B, T) ids (``<bos> y_1 .. y_{T-1}``).
        - logits: (B, T, V_y); weights: (B, T, S) with attention, else None.

    Example::

        >>> model = EncoderDecoder(30, 40, Seq2SeqConfig(embed_dim=8, hidden=16))
        >>> logits, weights = model(torch.randint(0, 30, (2, 7)), torch.tensor([7, 4]), torch.randint(0, 40, (2, 5)))
        >>> logits.shape, weights.shape
        (torch.Size([2, 5, 40]), torch.Size([2, 5, 7]))
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, config: Seq2SeqConfig | None = None):
        super().__init__()
        config = config or Seq2SeqConfig()
        for name, v in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {v!r}")
        self.config = config
        D = 2 if config.bidirectional else 1
        H_d = config.decoder_hidden or D * config.hidden
        L_d = config.decoder_layers or config.layers
        self.src_embedding = nn.Embedding(src_vocab, config.embed_dim)
        self.encoder = Recurrent(
            config.cell,
            config.embed_dim,
            config.hidden,
            num_layers=config.layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            **config.cell_options,
        )
        self.decoder = Decoder(
            tgt_vocab,
            config.embed_dim,
            H_d,
            layers=L_d,
            cell=config.cell,
            context=config.context,
            summary_size=D * config.hidden,
            memory_size=self.encoder.output_size,
            score=config.attention if config.attention != "none" else "general",
            attention_hidden=config.attention_hidden,
            max_length=config.max_source_length,
            dropout=config.dropout,
            **config.cell_options,
        )
        enc_parts = tuple(t.shape[-1] for t in state_parts(self.encoder.cells[0].init_state(1)))
        dec_parts = tuple(t.shape[-1] for t in state_parts(self.decoder.rnn.cells[0].init_state(1)))
        self.bridge = Bridge(enc_parts, dec_parts, config.layers, L_d, D)
        self.directions = D

    def encode(self, src: Tensor, src_lengths: Tensor) -> dict:
        """The decoder's starting state for a batch of sources (see :meth:`Decoder.start`)."""
        if src.dim() != 2 or src.dtype not in (torch.long, torch.int32):
            raise ValueError(f"EncoderDecoder expected source ids of shape (B, S), got {src.dtype} {tuple(src.shape)}")
        e = F.dropout(self.src_embedding(src), self.config.dropout, self.training)  # (B, S) -> (B, S, E)
        lengths = src_lengths.to(src.device)
        memory, enc_state = self.encoder(e, lengths=src_lengths)  # (B, S, D*H_e)
        D, L = self.directions, self.config.layers
        summary = torch.cat([state_parts(s)[0] for s in enc_state[(L - 1) * D : L * D]], dim=-1)  # (B, D*H_e)
        S = src.shape[1]
        mask = torch.arange(S, device=src.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)
        return self.decoder.start(self.bridge(enc_state), summary, memory, mask)

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        state = self.encode(src, src_lengths)
        return self.decoder(tgt_in, state, teacher_forcing=teacher_forcing, generator=generator)

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """One decoding step for :mod:`unrolled.decode`: tokens (B,) -> logits (B, V_y)."""
        return self.decoder.step(tokens, state)
