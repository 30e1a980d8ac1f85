r"""``SequenceTagger``: one label per token (part of speech, named entities) from a bidirectional recurrent encoder,
with a per-token softmax or a linear-chain CRF on top (Huang et al. 2015; Lample et al. 2016)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.registry import CELLS
from unrolled.layers.crf import CRF
from unrolled.layers.recurrent import Recurrent

__all__ = ["SequenceTagger", "TagBatch", "TaggerConfig"]


@dataclass
class TaggerConfig:
    """Architecture of :class:`SequenceTagger` (checked when built).

    Args:
        cell: a cell registry name for the word-level encoder (lstm, gru, elman, ln_lstm, ...).
        embed_dim: E, width of the word embeddings (the pretrained vectors' width when they are given).
        hidden: H, hidden units per direction of the word-level encoder. layers: L, stacked layers.
        bidirectional: read each sentence in both directions (D = 2) or left to right only.
        dropout: dropout on the token representations and the encoder outputs (Lample et al. use 0.5).
        crf: score whole tag sequences with a :class:`~unrolled.layers.CRF` instead of a per-token softmax.
        char_encoder: add a character-level BiLSTM over each word (Lample et al. 2016, sec. 4.1), which gives
            unknown words a representation from their spelling.
        char_embed_dim: C_E, width of the character embeddings. char_hidden: C_H, units per direction of the
            character BiLSTM (the word gets 2·C_H features). Lample et al. use 25 and 25.
        freeze_embeddings: keep the (pretrained) word embeddings fixed during training.
        cell_options: extra keyword arguments for the word-level cells (e.g. ``{"reset": "before"}``).
    """

    cell: str = "lstm"
    embed_dim: int = 100
    hidden: int = 100
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5
    crf: bool = False
    char_encoder: bool = False
    char_embed_dim: int = 25
    char_hidden: int = 25
    freeze_embeddings: bool = False
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("embed_dim", "hidden", "layers", "char_embed_dim", "char_hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"model.{name} must be a positive integer, got {v!r}")
        for name in ("bidirectional", "crf", "char_encoder", "freeze_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"model.{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.cell_options, dict):
            raise ValueError(f"model.cell_options must be a table, got {type(self.cell_options).__name__}")


@dataclass(frozen=True)
class TagBatch:
    """A padded batch of sentences for :class:`SequenceTagger` (build it with :meth:`collate`).

    Attributes:
        words: (B, T) word ids, padded with ``pad_id``.
        lengths: (B,) sentence lengths (CPU).
        tags: (B, T) tag ids (padded with 0), or ``None`` when tagging unlabelled text.
        chars: (B, T, C) character ids of every word (padded with ``pad_id``), or ``None`` without a character
            encoder.
        char_lengths: (B, T) characters per word (0 at padded words), or ``None``.
        indices: (B,) positions of the sentences in the dataset, or ``None``.
    """

    words: Tensor
    lengths: Tensor
    tags: Tensor | None = None
    chars: Tensor | None = None
    char_lengths: Tensor | None = None
    indices: Tensor | None = None

    @property
    def mask(self) -> Tensor:
        """(B, T) True at real tokens."""
        T = self.words.shape[1]
        return torch.arange(T, device=self.words.device)[None, :] < self.lengths.to(self.words.device)[:, None]

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def to(self, device: torch.device | str) -> TagBatch:
        """Move the id tensors to ``device``; ``lengths`` and ``indices`` stay on the CPU."""

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return replace(
            self, words=self.words.to(device), tags=move(self.tags), chars=move(self.chars),
            char_lengths=move(self.char_lengths),
        )  # fmt: skip

    @staticmethod
    def collate(
        words: Sequence[Sequence[int]],
        tags: Sequence[Sequence[int]] | None = None,
        chars: Sequence[Sequence[Sequence[int]]] | None = None,
        indices: Sequence[int] | None = None,
        pad_id: int = 0,
    ) -> TagBatch:
        """Pad lists of ids into a :class:`TagBatch` (rows keep their order; words and characters padded with
        ``pad_id``, tags with 0).

        Example::

            >>> b = TagBatch.collate([[5, 6, 7], [8]], [[1, 2, 1], [3]], [[[1], [2, 3], [4]], [[5, 6]]])
            >>> b.words.tolist(), b.lengths.tolist(), b.char_lengths.tolist()
            ([[5, 6, 7], [8, 0, 0]], [3, 1], [[1, 2, 1], [2, 0, 0]])
        """
        if len(words) == 0:
            raise ValueError("expected at least one sentence in a batch, got none")
        lengths = [len(w) for w in words]
        for k, n in enumerate(lengths):
            if n == 0:
                raise ValueError(f"sentence {k + 1} of the batch is empty; expected at least one token")
            if tags is not None and len(tags[k]) != n:
                raise ValueError(f"sentence {k + 1}: expected {n} tags (one per word), got {len(tags[k])}")
            if chars is not None and len(chars[k]) != n:
                raise ValueError(f"sentence {k + 1}: expected {n} character lists (one per word), got {len(chars[k])}")
        B, T = len(words), max(lengths)
        w = torch.full((B, T), pad_id, dtype=torch.long)
        t = torch.zeros(B, T, dtype=torch.long) if tags is not None else None
        for k in range(B):
            w[k, : lengths[k]] = torch.as_tensor(list(words[k]), dtype=torch.long)
            if t is not None:
                t[k, : lengths[k]] = torch.as_tensor(list(tags[k]), dtype=torch.long)
        c = cl = None
        if chars is not None:
            C = max(max((len(x) for x in sent), default=1) for sent in chars)
            c = torch.full((B, T, max(C, 1)), pad_id, dtype=torch.long)
            cl = torch.zeros(B, T, dtype=torch.long)
            for k, sent in enumerate(chars):
                for i, word in enumerate(sent):
                    if len(word) == 0:
                        raise ValueError(f"sentence {k + 1}, word {i + 1} has no characters; expected at least one")
                    c[k, i, : len(word)] = torch.as_tensor(list(word), dtype=torch.long)
                    cl[k, i] = len(word)
        idx = torch.as_tensor(list(indices), dtype=torch.long) if indices is not None else None
        return TagBatch(w, torch.as_tensor(lengths, dtype=torch.long), t, c, cl, idx)


class CharEncoder(nn.Module):
    r"""Each word's characters through a bidirectional recurrent layer; the word's feature is the forward output
    at its last character joined with the backward output at its first (Lample et al. 2016, sec. 4.1):

    .. math::
        r_w = [\overrightarrow{h}_{|w|}; \overleftarrow{h}_1]

    Shape:
        - chars: (B, T, C) character ids; char_lengths: (B, T), 0 at padded words
        - output: (B, T, 2·C_H), zero at padded words
    """

    def __init__(self, num_chars: int, embed_dim: int, hidden: int, pad_id: int = 0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embed_dim, padding_idx=pad_id)
        self.rnn = Recurrent("lstm", embed_dim, hidden, bidirectional=True)
        self.half = self.rnn.output_size // 2
        self.output_size = self.rnn.output_size

    def forward(self, chars: Tensor, char_lengths: Tensor) -> Tensor:
        B, T, C = chars.shape
        flat_lengths = char_lengths.reshape(-1)  # (B*T,)
        real = torch.nonzero(flat_lengths > 0).squeeze(1)  # (N,) the words that exist
        x = self.embedding(chars.reshape(B * T, C)[real])  # (N, C, C_E)
        n = flat_lengths[real]  # (N,)
        h, _ = self.rnn(x, lengths=n.cpu())  # (N, C, 2·C_H)
        rows = torch.arange(real.numel(), device=chars.device)
        fwd = h[rows, n - 1, : self.half]  # (N, C_H): forward direction after the last character
        bwd = h[:, 0, self.half :]  # (N, C_H): backward direction after reading back to the first
        out = h.new_zeros(B * T, self.output_size)  # (B*T, 2·C_H)
        out = out.index_copy(0, real, torch.cat([fwd, bwd], dim=1))
        return out.reshape(B, T, self.output_size)  # (B, T, 2·C_H)


class SequenceTagger(nn.Module):
    r"""BiLSTM(-CRF) sequence tagger (Huang et al. 2015; Lample et al. 2016):

    .. math::
        x_t = [E[w_t];\ r_{w_t}], \qquad
        h_t = [\overrightarrow{h}_t; \overleftarrow{h}_t] = \mathrm{BiRNN}(\mathrm{drop}(x))_t, \qquad
        P_t = W\, \mathrm{drop}(h_t) + b

    with :math:`E` the word embeddings (optionally initialised from pretrained vectors), :math:`r_w` the optional
    character-level features of word :math:`w` (:class:`CharEncoder`) and :math:`P_t \in \mathbb{R}^K` the
    emission scores. Without a CRF the loss is the token-averaged cross-entropy of
    :math:`\mathrm{softmax}(P_t)` and decoding takes :math:`\arg\max_k P_{t,k}`; with ``crf=True`` the loss is the
    CRF negative log-likelihood per token and decoding is Viterbi (:class:`~unrolled.layers.CRF`). Padding never
    reaches the loss or the decoded tags.

    Args:
        num_words: V, the word vocabulary.
        num_tags: K, the tag set.
        config: a :class:`TaggerConfig`.
        num_chars: the character vocabulary; required with ``config.char_encoder``.
        pad_id: the padding id of words and characters (its embedding stays zero). Default: 0.
        pretrained: optional (V, E) tensor of initial word vectors (rows of words without a vector may hold
            anything, e.g. random values).
        allowed, allowed_start, allowed_end: optional CRF constraints (see :class:`~unrolled.layers.CRF` and
            :func:`unrolled.text.tagschemes.allowed_transitions`).

    Shape:
        B batch, T time (longest sentence), K tags, C longest word in characters.

        - batch: a :class:`TagBatch` (words (B, T), lengths (B,), tags (B, T), chars (B, T, C))
        - :meth:`emissions`: (B, T, K); :meth:`forward` / :meth:`loss`: a scalar; :meth:`decode`: B lists

    Example::

        >>> tagger = SequenceTagger(20, 5, TaggerConfig(embed_dim=8, hidden=8, crf=True))
        >>> batch = TagBatch.collate([[3, 4, 5], [6, 7]], [[1, 2, 2], [0, 1]])
        >>> loss = tagger(batch)
        >>> [len(p) for p in tagger.decode(batch)]
        [3, 2]
    """

    def __init__(
        self,
        num_words: int,
        num_tags: int,
        config: TaggerConfig | None = None,
        *,
        num_chars: int | None = None,
        pad_id: int = 0,
        pretrained: Tensor | None = None,
        allowed: Sequence[Sequence[bool]] | Tensor | None = None,
        allowed_start: Sequence[bool] | Tensor | None = None,
        allowed_end: Sequence[bool] | Tensor | None = None,
    ) -> None:
        super().__init__()
        config = config or TaggerConfig()
        for name, v in (("num_words", num_words), ("num_tags", num_tags)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"SequenceTagger expected {name} to be a positive integer, got {v!r}")
        self.config, self.num_words, self.num_tags = config, num_words, num_tags
        self.embedding = nn.Embedding(num_words, config.embed_dim, padding_idx=pad_id)
        if pretrained is not None:
            if not isinstance(pretrained, Tensor) or tuple(pretrained.shape) != (num_words, config.embed_dim):
                got = tuple(pretrained.shape) if isinstance(pretrained, Tensor) else type(pretrained).__name__
                raise ValueError(
                    f"SequenceTagger expected pretrained vectors of shape (V, E) = ({num_words}, {config.embed_dim})"
                    f", got {got}"
                )
            with torch.no_grad():
                self.embedding.weight.copy_(pretrained)
                self.embedding.weight[pad_id].zero_()
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.chars: CharEncoder | None = None
        width = config.embed_dim
        if config.char_encoder:
            if isinstance(num_chars, bool) or not isinstance(num_chars, int) or num_chars < 2:
                raise ValueError(f"SequenceTagger with char_encoder expected num_chars >= 2, got {num_chars!r}")
            self.chars = CharEncoder(num_chars, config.char_embed_dim, config.char_hidden, pad_id)
            width += self.chars.output_size
        self.rnn = Recurrent(
            config.cell,
            width,
            config.hidden,
            num_layers=config.layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            **config.cell_options,
        )
        self.drop = nn.Dropout(config.dropout)
        self.output = nn.Linear(self.rnn.output_size, num_tags)
        self.crf = CRF(num_tags, allowed, allowed_start, allowed_end) if config.crf else None

    def _check(self, batch: TagBatch, need_tags: bool) -> None:
        if not isinstance(batch, TagBatch):
            raise TypeError(f"SequenceTagger expected a TagBatch, got {type(batch).__name__}")
        if need_tags and batch.tags is None:
            raise ValueError("SequenceTagger.loss expected a batch with tags, got tags=None")
        if self.chars is not None and batch.chars is None:
            raise ValueError("SequenceTagger has a character encoder: expected a batch with chars, got None")

    def emissions(self, batch: TagBatch) -> Tensor:
        """Per-token tag scores :math:`P` (B, T, K)."""
        self._check(batch, need_tags=False)
        x = self.embedding(batch.words)  # (B, T) -> (B, T, E)
        if self.chars is not None:
            x = torch.cat([x, self.chars(batch.chars, batch.char_lengths)], dim=2)  # (B, T, E + 2·C_H)
        h, _ = self.rnn(self.drop(x), lengths=batch.lengths)  # (B, T, D·H)
        return self.output(self.drop(h))  # (B, T, K)

    def forward(self, batch: TagBatch) -> Tensor:
        """The loss per token (call the module, not :meth:`loss`, under DistributedDataParallel)."""
        self._check(batch, need_tags=True)
        scores = self.emissions(batch)  # (B, T, K)
        lengths = batch.lengths.to(scores.device)
        if self.crf is not None:
            return self.crf(scores, batch.tags, lengths, reduction="token_mean")
        mask = batch.mask  # (B, T)
        return F.cross_entropy(scores[mask], batch.tags[mask])  # (N, K) against (N,)

    loss = forward

    @torch.no_grad()
    def decode(self, batch: TagBatch) -> list[list[int]]:
        """The predicted tag ids of every sentence (argmax, or Viterbi with the CRF), without padding."""
        scores = self.emissions(batch)  # (B, T, K)
        if self.crf is not None:
            paths, _ = self.crf.viterbi(scores, batch.lengths.to(scores.device))  # (B, T)
        else:
            paths = scores.argmax(dim=2)  # (B, T)
        return [row[:n].tolist() for row, n in zip(paths.cpu(), batch.lengths.tolist(), strict=True)]
