r"""``SequenceClassifier``: many-to-one recurrent classification (binary, multi-class, multi-label).

.. math::
    e_t = E[w_t] \ (\text{or the features } x_t), \quad h_{1..T} = \mathrm{Recurrent}(e_{1..T}), \quad
    z = \mathrm{pool}(h_{1..\ell}), \quad s = W_2\, \mathrm{act}(W_1 z + b_1) + b_2 \ (\text{or } W z + b)

and the scores :math:`s` read as one logit (binary: :math:`p(y=1) = \sigma(s)`), a softmax over C classes
(multi-class) or C independent sigmoids (multi-label). The heads are resolved by name once through
:data:`HEADS`; each carries its loss, its probabilities and its decisions.

Class weights (for imbalanced data): multi-class and binary use a per-example weight :math:`w_{y_i}` and the
weighted mean :math:`\sum_i w_{y_i} \ell_i / \sum_i w_{y_i}` (torch's ``cross_entropy(weight=)`` formula);
multi-label weighs the positive term of class :math:`c` by :math:`w_c` (``pos_weight``).
``balanced_class_weights`` gives scikit-learn's "balanced" weights :math:`w_c = N / (C\, n_c)` (King & Zeng 2001),
or for multi-label :math:`w_c = n^-_c / n^+_c`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.registry import CELLS
from unrolled.layers.pooling import POOLINGS, make_pooling
from unrolled.layers.recurrent import Recurrent

__all__ = [
    "HEADS",
    "BinaryHead",
    "ClassifierConfig",
    "MultiClassHead",
    "MultiLabelHead",
    "SequenceClassifier",
    "balanced_class_weights",
]


class BinaryHead:
    r"""One logit :math:`s`, :math:`p(y = 1) = \sigma(s)`; targets are 0/1 ids (N,); decision :math:`p > 0.5`."""

    name = "binary"

    @staticmethod
    def outputs(num_classes: int) -> int:
        if num_classes != 2:
            raise ValueError(f"the binary head needs exactly 2 classes, got {num_classes}")
        return 1

    @staticmethod
    def loss(logits: Tensor, targets: Tensor, class_weights: Tensor | None = None) -> Tensor:
        y = targets.to(logits.dtype)  # (B,)
        per = F.binary_cross_entropy_with_logits(logits[:, 0], y, reduction="none")  # (B,)
        if class_weights is None:
            return per.mean()
        w = class_weights.to(logits.dtype)[targets]  # (B,)
        return (w * per).sum() / w.sum()

    @staticmethod
    def probabilities(logits: Tensor) -> Tensor:
        p = torch.sigmoid(logits[:, 0])  # (B,)
        return torch.stack([1 - p, p], dim=1)  # (B, 2)

    @staticmethod
    def predict(logits: Tensor) -> Tensor:
        return (logits[:, 0] > 0).long()  # (B,)


class MultiClassHead:
    r"""C logits, :math:`p = \mathrm{softmax}(s)`; targets are class ids (N,); decision :math:`\arg\max_c p_c`."""

    name = "multiclass"

    @staticmethod
    def outputs(num_classes: int) -> int:
        if num_classes < 2:
            raise ValueError(f"multi-class classification needs at least 2 classes, got {num_classes}")
        return num_classes

    @staticmethod
    def loss(logits: Tensor, targets: Tensor, class_weights: Tensor | None = None) -> Tensor:
        w = None if class_weights is None else class_weights.to(logits.dtype)
        return F.cross_entropy(logits, targets, weight=w)

    @staticmethod
    def probabilities(logits: Tensor) -> Tensor:
        return torch.softmax(logits, dim=-1)  # (B, C)

    @staticmethod
    def predict(logits: Tensor) -> Tensor:
        return logits.argmax(-1)  # (B,)


class MultiLabelHead:
    r"""C independent logits, :math:`p_c = \sigma(s_c)`; targets are 0/1 indicators (N, C); decision
    :math:`p_c > 0.5` for every class."""

    name = "multilabel"

    @staticmethod
    def outputs(num_classes: int) -> int:
        if num_classes < 1:
            raise ValueError(f"multi-label classification needs at least 1 class, got {num_classes}")
        return num_classes

    @staticmethod
    def loss(logits: Tensor, targets: Tensor, class_weights: Tensor | None = None) -> Tensor:
        w = None if class_weights is None else class_weights.to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), pos_weight=w)

    @staticmethod
    def probabilities(logits: Tensor) -> Tensor:
        return torch.sigmoid(logits)  # (B, C)

    @staticmethod
    def predict(logits: Tensor) -> Tensor:
        return (logits > 0).long()  # (B, C)


HEADS: dict[str, type] = {"binary": BinaryHead, "multiclass": MultiClassHead, "multilabel": MultiLabelHead}


def balanced_class_weights(targets: Tensor, num_classes: int, head: str = "multiclass") -> Tensor:
    r"""scikit-learn's ``class_weight="balanced"``: :math:`w_c = N / (C\, n_c)` for class ids (N,); for a
    multi-label indicator matrix (N, C) the positive weights :math:`w_c = n^-_c / n^+_c`. A class that never
    occurs gets weight 1.

    Example::

        >>> balanced_class_weights(torch.tensor([0, 0, 0, 1]), 2)
        tensor([0.6667, 2.0000])
    """
    if head == "multilabel":
        if targets.dim() != 2 or targets.shape[1] != num_classes:
            raise ValueError(f"multi-label targets must be (N, C={num_classes}), got {tuple(targets.shape)}")
        pos = targets.sum(0).double()  # (C,)
        neg = targets.shape[0] - pos
        return torch.where(pos > 0, neg / pos.clamp(min=1), torch.ones_like(pos)).float()
    if targets.dim() != 1:
        raise ValueError(f"class ids must be (N,), got {tuple(targets.shape)}")
    counts = torch.bincount(targets, minlength=num_classes).double()  # (C,)
    weights = targets.numel() / (num_classes * counts.clamp(min=1))
    return torch.where(counts > 0, weights, torch.ones_like(weights)).float()


@dataclass
class ClassifierConfig:
    """Architecture of :class:`SequenceClassifier` (checked when built).

    Args:
        cell: a cell registry name (lstm, gru, elman, ...).
        embed_dim: E, width of the token embeddings (ignored with numeric ``input_size`` features).
        hidden: H, hidden units per layer and direction. layers: L, stacked layers.
        bidirectional: a reverse direction in every layer (outputs concatenated).
        dropout: dropout on the embeddings, between layers and before the head.
        pooling: ``last``, ``mean``, ``max`` or ``attention`` (see :mod:`unrolled.layers.pooling`).
        attention_size: A, the attention pooling's hidden width (default the pooled width).
        head: ``binary``, ``multiclass`` or ``multilabel``.
        head_hidden: width of a hidden layer in the dense head (0: none). activation: ``tanh`` or ``relu``.
        cell_options: extra keyword arguments for the cell (e.g. ``{"nonlinearity": "relu"}``).
    """

    cell: str = "lstm"
    embed_dim: int = 64
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    pooling: str = "last"
    attention_size: int | None = None
    head: str = "multiclass"
    head_hidden: int = 0
    activation: str = "tanh"
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("embed_dim", "hidden", "layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"model.{name} must be a positive integer, got {v!r}")
        if not isinstance(self.head_hidden, int) or isinstance(self.head_hidden, bool) or self.head_hidden < 0:
            raise ValueError(f"model.head_hidden must be an integer >= 0, got {self.head_hidden!r}")
        if self.attention_size is not None and (
            not isinstance(self.attention_size, int) or isinstance(self.attention_size, bool) or self.attention_size < 1
        ):
            raise ValueError(f"model.attention_size must be a positive integer or null, got {self.attention_size!r}")
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"model.bidirectional must be true or false, got {self.bidirectional!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"model.pooling must be one of {sorted(POOLINGS)}, got {self.pooling!r}")
        if self.head not in HEADS:
            raise ValueError(f"model.head must be one of {sorted(HEADS)}, got {self.head!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"model.activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if not isinstance(self.cell_options, dict):
            raise ValueError(f"model.cell_options must be a table, got {type(self.cell_options).__name__}")


_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class SequenceClassifier(nn.Module):
    r"""Embedding (or numeric features) -> :class:`~unrolled.Recurrent` -> pooling -> dense head.

    See the module docstring for the equations. Exactly one of ``vocab_size`` (token ids in) and ``input_size``
    (numeric features per step in) is given.

    Args:
        num_classes: C (2 for the binary head).
        vocab_size: V, for token-id inputs. input_size: I, for numeric inputs.
        config: a :class:`ClassifierConfig`.
        pad_id: the padding id (its embedding row is zero and receives no gradient).
        embedding: optional pretrained matrix (V, E) to initialise the embedding (``config.embed_dim`` must be E).
        freeze_embedding: keep the embedding fixed during training.
        class_weights: optional (C,) weights used by :meth:`loss` (see the module docstring).

    Shape:
        B batch, T time, C classes, K head outputs (1 for binary, else C).

        - inputs: (B, T) token ids, or (B, T, I) features; lengths: (B,) in 1..T (optional).
        - output logits: (B, K); targets: (B,) class ids, or (B, C) 0/1 for multi-label.

    Example::

        >>> model = SequenceClassifier(3, vocab_size=20, config=ClassifierConfig(hidden=8, embed_dim=4))
        >>> logits = model(torch.randint(0, 20, (2, 5)), lengths=torch.tensor([5, 3]))
        >>> logits.shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        num_classes: int,
        vocab_size: int | None = None,
        input_size: int | None = None,
        config: ClassifierConfig | None = None,
        pad_id: int | None = None,
        embedding: Tensor | None = None,
        freeze_embedding: bool = False,
        class_weights: Tensor | None = None,
    ):
        super().__init__()
        config = config or ClassifierConfig()
        if (vocab_size is None) == (input_size is None):
            raise ValueError("SequenceClassifier needs exactly one of vocab_size (token ids) or input_size (features)")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int):
            raise ValueError(f"num_classes must be an integer, got {num_classes!r}")
        self.config, self.num_classes = config, num_classes
        self.head = HEADS[config.head]
        outputs = self.head.outputs(num_classes)
        if vocab_size is not None:
            if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
                raise ValueError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
            self.embedding: nn.Embedding | None = nn.Embedding(vocab_size, config.embed_dim, padding_idx=pad_id)
            if embedding is not None:
                if tuple(embedding.shape) != (vocab_size, config.embed_dim):
                    raise ValueError(
                        f"pretrained embedding must be (V, E) = ({vocab_size}, {config.embed_dim}), "
                        f"got {tuple(embedding.shape)}"
                    )
                with torch.no_grad():
                    self.embedding.weight.copy_(embedding)
            self.embedding.weight.requires_grad_(not freeze_embedding)
            rnn_in = config.embed_dim
        else:
            if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
                raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
            if embedding is not None:
                raise ValueError("a pretrained embedding needs token inputs (vocab_size), not numeric features")
            self.embedding = None
            rnn_in = input_size
        self.vocab_size, self.input_size = vocab_size, input_size
        self.rnn = Recurrent(
            config.cell,
            rnn_in,
            config.hidden,
            num_layers=config.layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            batch_first=True,
            **config.cell_options,
        )
        D = 2 if config.bidirectional else 1
        self.pool = make_pooling(config.pooling, self.rnn.output_size, D, config.attention_size)
        self.drop = nn.Dropout(config.dropout)
        width = self.rnn.output_size
        if config.head_hidden:
            self.dense: nn.Module = nn.Sequential(
                nn.Linear(width, config.head_hidden), _ACTIVATIONS[config.activation](), self.drop
            )
            width = config.head_hidden
        else:
            self.dense = nn.Identity()
        self.out = nn.Linear(width, outputs)
        if class_weights is not None:
            class_weights = torch.as_tensor(class_weights, dtype=torch.float32)
            if class_weights.shape != (num_classes,) or bool((class_weights < 0).any()):
                raise ValueError(
                    f"class_weights must be {num_classes} non-negative numbers (one per class), "
                    f"got shape {tuple(class_weights.shape)}"
                )
        self.register_buffer("class_weights", class_weights, persistent=False)  # set by the data, not learned

    def encode(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The pooled representation :math:`z` (B, F) of a batch."""
        if self.embedding is not None:
            if inputs.dim() != 2 or inputs.dtype.is_floating_point or inputs.dtype == torch.bool:
                raise ValueError(
                    f"SequenceClassifier expected integer token ids (B, T), got {inputs.dtype} {tuple(inputs.shape)}"
                )
            x = self.drop(self.embedding(inputs))  # (B, T) -> (B, T, E)
        else:
            if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
                raise ValueError(
                    f"SequenceClassifier expected features (B, T, I={self.input_size}), got {tuple(inputs.shape)}"
                )
            x = inputs
        h, _ = self.rnn(x, lengths=lengths)  # (B, T, D·H)
        return self.pool(h, lengths)  # (B, D·H)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        z = self.drop(self.encode(inputs, lengths))  # (B, F)
        return self.out(self.dense(z))  # (B, F) -> (B, K)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The head's mean loss, with the model's class weights if it has any."""
        return self.head.loss(logits, targets, self.class_weights)

    def probabilities(self, logits: Tensor) -> Tensor:
        """(B, C) probabilities: a softmax (multi-class), (1-p, p) (binary) or independent sigmoids."""
        return self.head.probabilities(logits)

    def predict(self, logits: Tensor) -> Tensor:
        """Class ids (B,), or 0/1 indicators (B, C) for multi-label."""
        return self.head.predict(logits)
