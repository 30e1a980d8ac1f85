"""The configuration of a classification run: data, model, training (typed, checked when built).

Names are checked against the registries that resolve them: ``data.tokenizer`` (:data:`~unrolled.text.TOKENIZERS`),
``data.class_weights`` (:data:`CLASS_WEIGHTS`), ``model.cell`` (the cell registry), ``model.pooling``
(:data:`~unrolled.layers.pooling.POOLINGS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unrolled.cells.base import check_positive
from unrolled.models.classifier import ClassifierConfig
from unrolled.text.tokenize import TOKENIZERS
from unrolled.train.config import TrainConfig

__all__ = ["CLASS_WEIGHTS", "ClassifyDataConfig", "ClassifyModelConfig", "ClassifyRunConfig", "column_spec"]

#: ``data.class_weights``: none, or scikit-learn's "balanced" (N / (C n_c); n^-_c / n^+_c for multi-label)
CLASS_WEIGHTS = ("none", "balanced")


def column_spec(value: str) -> str | int:
    """A column given on the command line or in a config: a 0-based index (``"2"``) or a header name."""
    return int(value) if value.strip().isdigit() else value


@dataclass
class ClassifyDataConfig:
    """Where the labelled texts come from and how they are read, split, tokenized and batched.

    Args:
        path: a CSV/TSV file (text and label columns) or a folder per class (one file per class, each line an
            example, or one sub-folder per class holding one file per example).
        valid / test: separate validation / test files in the same layout; without ``valid`` a stratified
            ``valid_fraction`` of every class of ``path`` is held out (seeded by ``train.seed``).
        text_column / label_column: header names or 0-based indices (``"0"``) of a CSV/TSV file.
        header: whether the first row names the columns (default: when a column is given by name).
        delimiter: one character (default: from the extension: .tsv tab, .csv comma).
        multi_label: several labels per example, split on ``label_separator``; independent sigmoids.
        tokenizer: ``char`` or ``word``. lowercase: lower-case the texts first.
        min_freq / max_vocab: vocabulary limits (rarer tokens become ``<unk>``; max_vocab counts the 4 specials).
        class_weights: ``none`` or ``balanced``.
        vectors: pretrained word vectors (word2vec/GloVe text); ``freeze`` keeps them fixed.
        batch_size / eval_batch_size: examples per batch (length-bucketed).
    """

    path: str | None = None
    valid: str | None = None
    test: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    header: bool | None = None
    delimiter: str | None = None
    multi_label: bool = False
    label_separator: str = ","
    tokenizer: str = "word"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    valid_fraction: float = 0.1
    class_weights: str = "none"
    vectors: str | None = None
    freeze: bool = False
    batch_size: int = 32
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"data.tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}")
        if self.class_weights not in CLASS_WEIGHTS:
            choices = ", ".join(CLASS_WEIGHTS)
            raise ValueError(f"data.class_weights must be one of {choices}, got {self.class_weights!r}")
        for name in ("min_freq", "batch_size", "eval_batch_size"):
            check_positive(f"data.{name}", getattr(self, name))
        if self.max_vocab is not None:
            check_positive("data.max_vocab", self.max_vocab)
        v = self.valid_fraction
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ValueError(f"data.valid_fraction must be a number in (0, 1), got {v!r}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"data.delimiter must be one character, got {self.delimiter!r}")
        if not self.label_separator:
            raise ValueError("data.label_separator must be a non-empty string")
        if self.freeze and self.vectors is None:
            raise ValueError("data.freeze keeps pretrained vectors fixed; it needs data.vectors (--vectors FILE)")


@dataclass
class ClassifyModelConfig:
    """Architecture (see :class:`~unrolled.models.ClassifierConfig`); the head (binary for two classes, softmax for
    more, sigmoids for multi-label) follows from the data.

    Args:
        embed_dim: E; ``None``: 64, or the width of the pretrained vectors.
    """

    cell: str = "lstm"
    embed_dim: int | None = None
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    pooling: str = "last"
    attention_size: int | None = None
    head_hidden: int = 0
    activation: str = "tanh"
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.embed_dim is not None:
            check_positive("model.embed_dim", self.embed_dim)
        self.classifier("multiclass")  # every other check, with the same one-line messages

    def classifier(self, head: str, embed_dim: int | None = None) -> ClassifierConfig:
        """The model's :class:`ClassifierConfig` for ``head`` (and the embedding width actually used)."""
        return ClassifierConfig(
            cell=self.cell,
            embed_dim=embed_dim or self.embed_dim or 64,
            hidden=self.hidden,
            layers=self.layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            pooling=self.pooling,
            attention_size=self.attention_size,
            head=head,
            head_hidden=self.head_hidden,
            activation=self.activation,
            cell_options=dict(self.cell_options),
        )


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=10, lr=2e-3, clip_norm=5.0)


@dataclass
class ClassifyRunConfig:
    """A classification run: ``data``, ``model`` and ``train`` (:class:`~unrolled.train.TrainConfig`)."""

    data: ClassifyDataConfig = field(default_factory=ClassifyDataConfig)
    model: ClassifyModelConfig = field(default_factory=ClassifyModelConfig)
    train: TrainConfig = field(default_factory=_default_train)
