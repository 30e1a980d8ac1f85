"""The configuration of a conditioned-generation run: data, model, training (typed, checked when built).

Names are checked against the registries that resolve them: ``data.tokenizer`` (:data:`~unrolled.text.TOKENIZERS`),
``model.conditioning`` (:data:`~unrolled.models.conditioned.CONDITIONINGS`), ``model.cell`` (the cell registry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unrolled.cells.base import check_positive
from unrolled.cells.registry import CELLS
from unrolled.models.conditioned import CONDITIONINGS
from unrolled.text.tokenize import TOKENIZERS
from unrolled.train.config import TrainConfig

__all__ = ["ConditionedDataConfig", "ConditionedModelConfig", "ConditionedRunConfig"]


def _fraction(name: str, value: Any, zero_ok: bool = False) -> None:
    """``value`` in (0, 1), or [0, 1) when ``zero_ok``; else the one-line error naming the key."""
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if not number or not (0 <= value < 1 if zero_ok else 0 < value < 1):
        raise ValueError(f"{name} must be a number in {'[0, 1)' if zero_ok else '(0, 1)'}, got {value!r}")


@dataclass
class ConditionedDataConfig:
    """Where the labelled sequences come from and how they are read, split, tokenized and batched.

    Args:
        path: a folder of ``LABEL.txt`` files (one sequence per line, the label is the file's stem; the layout of
            ``names/``) or a TSV file of ``label<TAB>text`` lines.
        valid: a validation file or folder in the same layout; without it a ``valid_fraction`` of every label of
            ``path`` is held out (stratified, seeded by ``train.seed``).
        tokenizer: ``char`` (default), ``word`` or ``whitespace``. lowercase: lower-case the texts first.
        min_freq / max_vocab: vocabulary limits (rarer tokens become ``<unk>``; max_vocab counts the 4 specials).
        batch_size / eval_batch_size: sequences per batch (length-bucketed).
    """

    path: str | None = None
    valid: str | None = None
    valid_fraction: float = 0.1
    tokenizer: str = "char"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    batch_size: int = 32
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"data.tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}")
        for name in ("min_freq", "batch_size", "eval_batch_size"):
            check_positive(f"data.{name}", getattr(self, name))
        if self.max_vocab is not None:
            check_positive("data.max_vocab", self.max_vocab)
        _fraction("data.valid_fraction", self.valid_fraction)


@dataclass
class ConditionedModelConfig:
    """Architecture of the :class:`~unrolled.models.ConditionedDecoder`.

    Args:
        conditioning: ``init`` (the label's vector sets :math:`h_0`) or ``every_step`` (it is fed beside every
            token). cell: a cell registry name. embed_dim: E, token embedding width. label_dim: F, the width of the
            label embedding. hidden: H. layers: L. dropout: between layers and before the output.
    """

    conditioning: str = "init"
    cell: str = "lstm"
    embed_dim: int = 32
    label_dim: int = 16
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            choices = ", ".join(CONDITIONINGS)
            raise ValueError(f"model.conditioning must be one of {choices}, got {self.conditioning!r}")
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("embed_dim", "label_dim", "hidden", "layers"):
            check_positive(f"model.{name}", getattr(self, name))
        _fraction("model.dropout", self.dropout, zero_ok=True)
        if not isinstance(self.cell_options, dict):
            raise ValueError(f"model.cell_options must be a mapping, got {type(self.cell_options).__name__}")


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=10, lr=3e-3, clip_norm=5.0)


@dataclass
class ConditionedRunConfig:
    """A conditioned-generation run: ``data``, ``model`` and ``train`` (:class:`~unrolled.train.TrainConfig`)."""

    data: ConditionedDataConfig = field(default_factory=ConditionedDataConfig)
    model: ConditionedModelConfig = field(default_factory=ConditionedModelConfig)
    train: TrainConfig = field(default_factory=_default_train)
