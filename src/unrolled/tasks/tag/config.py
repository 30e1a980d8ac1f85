"""The configuration of a tagging run: data, model, training (typed, checked when built).

Names are checked against the registries that resolve them: ``data.format`` (:data:`~unrolled.data.conll.FORMATS`),
``data.tagset`` (UPOS / XPOS), ``data.scheme`` (:data:`~unrolled.text.tagschemes.SCHEMES`, ``auto`` or ``none``),
``model.cell`` (the cell registry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unrolled.cells.base import check_positive
from unrolled.data.conll import CONLLU_COLUMNS, FORMATS
from unrolled.models.tagger import TaggerConfig
from unrolled.text.tagschemes import SCHEMES
from unrolled.train.config import TrainConfig

__all__ = ["SCHEME_CHOICES", "TagDataConfig", "TagModelConfig", "TagRunConfig", "parse_columns"]

#: ``data.scheme``: a tag scheme, ``auto`` (detected from the training tags; ``none`` if they are not chunk tags)
#: or ``none`` (plain labels such as part of speech: token accuracy only)
SCHEME_CHOICES = ("auto", "none", *SCHEMES)


def parse_columns(value: str) -> tuple[int, int]:
    """``"0,3"`` -> ``(0, 3)``: the token and tag columns (0-based; negative from the end)."""
    parts = [p.strip() for p in str(value).split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        return int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"data.columns must be 'TOKEN,TAG' column numbers such as 0,3, got {value!r}") from None


@dataclass
class TagDataConfig:
    """Where the tagged sentences come from and how they are read and batched.

    Args:
        path / valid / test: training, validation and (optional) test files.
        format: ``conll`` (whitespace columns, ``-DOCSTART-``, blank lines between sentences) or ``conllu``.
        columns: ``"TOKEN,TAG"`` columns of a CoNLL file (0-based, negative from the end; default ``0,-1``).
        tagset: ``upos`` or ``xpos`` for CoNLL-U.
        scheme: the chunk scheme of the tags for entity scores and CRF constraints: ``auto`` (detected),
            ``none`` (plain labels, token accuracy only), ``bio``, ``iob1``, ``bioes`` or ``io``.
        lowercase: lower-case the words for the word vocabulary (the characters keep their case).
        min_freq / max_vocab: word vocabulary limits (rarer words become ``<unk>``; max_vocab counts the specials).
        vectors: pretrained word vectors (word2vec/GloVe text); ``freeze`` keeps them fixed.
        batch_size / eval_batch_size: sentences per batch (length-bucketed).
    """

    path: str | None = None
    valid: str | None = None
    test: str | None = None
    format: str = "conll"
    columns: str = "0,-1"
    tagset: str = "upos"
    scheme: str = "auto"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    vectors: str | None = None
    freeze: bool = False
    batch_size: int = 32
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"data.format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.tagset not in CONLLU_COLUMNS:
            raise ValueError(f"data.tagset must be one of {', '.join(CONLLU_COLUMNS)}, got {self.tagset!r}")
        if self.scheme not in SCHEME_CHOICES:
            raise ValueError(f"data.scheme must be one of {', '.join(SCHEME_CHOICES)}, got {self.scheme!r}")
        parse_columns(self.columns)
        for name in ("min_freq", "batch_size", "eval_batch_size"):
            check_positive(f"data.{name}", getattr(self, name))
        if self.max_vocab is not None:
            check_positive("data.max_vocab", self.max_vocab)
        if self.freeze and self.vectors is None:
            raise ValueError("data.freeze keeps pretrained vectors fixed; it needs data.vectors (--vectors FILE)")

    @property
    def column_pair(self) -> tuple[int, int]:
        return parse_columns(self.columns)


@dataclass
class TagModelConfig:
    """Architecture (see :class:`~unrolled.models.TaggerConfig`).

    Args:
        embed_dim: E; ``None``: 100, or the width of the pretrained vectors.
        constrain: with the CRF, forbid the transitions the tag scheme forbids (e.g. ``O -> I-X`` in BIO).
    """

    cell: str = "lstm"
    embed_dim: int | None = None
    hidden: int = 100
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5
    crf: bool = False
    constrain: bool = True
    char_encoder: bool = False
    char_embed_dim: int = 25
    char_hidden: int = 25
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.embed_dim is not None:
            check_positive("model.embed_dim", self.embed_dim)
        if not isinstance(self.constrain, bool):
            raise ValueError(f"model.constrain must be true or false, got {self.constrain!r}")
        self.tagger()  # every other check, with the same one-line messages

    def tagger(self, embed_dim: int | None = None, freeze: bool = False) -> TaggerConfig:
        """The model's :class:`TaggerConfig` (with the embedding width actually used)."""
        return TaggerConfig(
            cell=self.cell,
            embed_dim=embed_dim or self.embed_dim or 100,
            hidden=self.hidden,
            layers=self.layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            crf=self.crf,
            char_encoder=self.char_encoder,
            char_embed_dim=self.char_embed_dim,
            char_hidden=self.char_hidden,
            freeze_embeddings=freeze,
            cell_options=dict(self.cell_options),
        )


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=10, lr=2e-3, clip_norm=5.0)


@dataclass
class TagRunConfig:
    """A tagging run: ``data``, ``model`` and ``train`` (:class:`~unrolled.train.TrainConfig`)."""

    data: TagDataConfig = field(default_factory=TagDataConfig)
    model: TagModelConfig = field(default_factory=TagModelConfig)
    train: TrainConfig = field(default_factory=_default_train)
