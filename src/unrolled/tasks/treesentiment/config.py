"""The configuration of a tree-sentiment run: data, model, training (typed, checked when built)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unrolled.models.tree_classifier import COMPOSITIONS, TREE_LOSSES, TreeClassifierConfig
from unrolled.train.config import TrainConfig

__all__ = ["TreeDataConfig", "TreeModelConfig", "TreeSentimentRunConfig"]


def _int(section: str, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{section}.{name}: expected an integer >= {minimum}, got {value!r}")


@dataclass
class TreeDataConfig:
    """Treebank files (bracketed trees, one per line, a label 0..C-1 at every node) and batching.

    Args:
        path: the training trees. valid: validation trees (required). test: test trees, scored by ``evaluate``.
        lowercase: lower-case the words. min_freq: rarer training words become ``<unk>``.
        batch_size / eval_batch_size: trees per batch.
    """

    path: str | None = None
    valid: str | None = None
    test: str | None = None
    lowercase: bool = False
    min_freq: int = 1
    batch_size: int = 25
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        _int("data", "min_freq", self.min_freq, 1)
        _int("data", "batch_size", self.batch_size, 1)
        _int("data", "eval_batch_size", self.eval_batch_size, 1)


@dataclass
class TreeModelConfig:
    """The model: ``model`` (``tree_lstm`` binary N-ary Tree-LSTM, ``child_sum``, ``recursive``), ``hidden`` units,
    ``embed`` width (0: = hidden), ``classes`` C (labels 0..C-1; SST: 5), ``dropout`` before the softmax, and the
    ``loss``: ``all`` (every node, default) or ``root``."""

    model: str = "tree_lstm"
    hidden: int = 100
    embed: int = 0
    classes: int = 5
    dropout: float = 0.0
    loss: str = "all"

    def __post_init__(self) -> None:
        if self.model not in COMPOSITIONS:
            raise ValueError(f"model.model: expected one of {', '.join(COMPOSITIONS)}, got {self.model!r}")
        if self.loss not in TREE_LOSSES:
            raise ValueError(f"model.loss: expected one of {', '.join(TREE_LOSSES)}, got {self.loss!r}")
        _int("model", "hidden", self.hidden, 1)
        _int("model", "embed", self.embed, 0)
        _int("model", "classes", self.classes, 2)
        if self.model == "recursive" and self.embed not in (0, self.hidden):
            raise ValueError(
                f"model.embed: the recursive network needs embed = hidden ({self.hidden}), got {self.embed}"
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout: expected a number in [0, 1), got {self.dropout!r}")

    def classifier(self, vocab_size: int) -> TreeClassifierConfig:
        return TreeClassifierConfig(
            vocab_size=vocab_size,
            num_classes=self.classes,
            model=self.model,
            embedding_dim=self.embed,
            hidden_size=self.hidden,
            dropout=float(self.dropout),
        )


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=10, lr=5e-3, clip_norm=5.0)


@dataclass
class TreeSentimentRunConfig:
    """A tree-sentiment run: ``data``, ``model`` and ``train`` (:class:`~unrolled.train.TrainConfig`)."""

    data: TreeDataConfig = field(default_factory=TreeDataConfig)
    model: TreeModelConfig = field(default_factory=TreeModelConfig)
    train: TrainConfig = field(default_factory=_default_train)
