"""The configuration of a language-modeling run: data, model, training, sampling (typed, checked when built)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unrolled.cells.registry import CELLS
from unrolled.train.config import TrainConfig

TOKENIZER_NAMES = ("char", "word")
FAMILIES = ("rnn", "fixed_window", "ngram")
SMOOTHINGS = ("kneser_ney", "add_k")


def _positive(section: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{section}.{name} must be a positive integer, got {value!r}")


@dataclass
class LMDataConfig:
    """Where the text comes from and how it is cut into training batches.

    Args:
        path: a UTF-8 text file or a folder of ``.txt`` files; ``None`` trains on the built-in corpus (the source
            of some of Python's standard-library modules).
        tokenizer: ``char`` or ``word``. lowercase: lower-case the text first.
        min_freq / max_vocab: vocabulary limits (rarer tokens become ``<unk>``).
        valid_fraction: the last fraction of the token stream held out for validation.
        batch_size: B rows of the contiguous stream. bptt: k1, steps per chunk (truncated BPTT).
        k2: steps back-propagated per update (Williams & Peng 1990); ``None`` means k2 = k1 = bptt.
        eval_batch_size: rows of the validation stream.
    """

    path: str | None = None
    tokenizer: str = "char"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    valid_fraction: float = 0.1
    batch_size: int = 32
    bptt: int = 100
    k2: int | None = None
    eval_batch_size: int = 16

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZER_NAMES:
            raise ValueError(f"data.tokenizer must be one of {TOKENIZER_NAMES}, got {self.tokenizer!r}")
        for name in ("min_freq", "batch_size", "bptt", "eval_batch_size"):
            _positive("data", name, getattr(self, name))
        if self.max_vocab is not None:
            _positive("data", "max_vocab", self.max_vocab)
        if self.k2 is not None and (not isinstance(self.k2, int) or self.k2 < self.bptt):
            raise ValueError(f"data.k2 must be an integer >= data.bptt = {self.bptt}, got {self.k2!r}")
        if not 0.0 < self.valid_fraction < 0.5:
            raise ValueError(f"data.valid_fraction must be in (0, 0.5), got {self.valid_fraction!r}")


@dataclass
class LMModelConfig:
    """Which model: ``family`` picks the recurrent LM or one of the two baselines; the other fields apply to the
    family that uses them.

    Args:
        family: ``rnn`` (:class:`~unrolled.models.RNNLanguageModel`), ``fixed_window`` (Bengio et al. 2003) or
            ``ngram`` (Kneser-Ney or add-k smoothed counts).
        cell, embed_dim, hidden, layers, dropout, tie_weights, recurrent_dropout, zoneout, residual, cell_options:
            the recurrent model (see :class:`~unrolled.models.RNNLMConfig`); ``embed_dim``, ``hidden`` and
            ``dropout`` also size the fixed-window model.
        context: n - 1 tokens of context for the fixed-window model. direct: its direct input-output connections.
        order: n of the n-gram model. smoothing: ``kneser_ney`` or ``add_k``. add_k: k of add-k smoothing.
        discount: the Kneser-Ney discount.
    """

    family: str = "rnn"
    cell: str = "lstm"
    embed_dim: int = 64
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1
    tie_weights: bool = False
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    residual: bool = False
    cell_options: dict[str, Any] = field(default_factory=dict)
    context: int = 8
    direct: bool = True
    order: int = 5
    smoothing: str = "kneser_ney"
    add_k: float = 0.1
    discount: float = 0.75

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"model.family must be one of {FAMILIES}, got {self.family!r}")
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        if self.smoothing not in SMOOTHINGS:
            raise ValueError(f"model.smoothing must be one of {SMOOTHINGS}, got {self.smoothing!r}")
        for name in ("embed_dim", "hidden", "layers", "context", "order"):
            _positive("model", name, getattr(self, name))
        for name in ("dropout", "recurrent_dropout", "zoneout"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"model.{name} must be in [0, 1), got {v!r}")
        if self.add_k <= 0:
            raise ValueError(f"model.add_k must be > 0, got {self.add_k!r}")
        if not 0.0 < self.discount < 1.0:
            raise ValueError(f"model.discount must be in (0, 1), got {self.discount!r}")


@dataclass
class LMSampleConfig:
    """Samples printed while training (``every`` steps, and at each epoch end) and the defaults of generation.

    Args:
        every: print a sample every this many optimizer steps (0: only at epoch ends).
        length: tokens per sample. temperature, top_k, top_p: sampling settings. prime: text to start from
            (empty: a newline, or the most frequent token). seed: sampling seed.
    """

    every: int = 0
    length: int = 200
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    prime: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.every, int) or self.every < 0:
            raise ValueError(f"sample.every must be an integer >= 0, got {self.every!r}")
        if not isinstance(self.length, int) or self.length < 0:
            raise ValueError(f"sample.length must be an integer >= 0, got {self.length!r}")
        if self.temperature < 0:
            raise ValueError(f"sample.temperature must be >= 0, got {self.temperature!r}")


def default_train_config() -> TrainConfig:
    """Training defaults of the main job: Adam, clipping, perplexity shown as bits per character."""
    return TrainConfig(
        epochs=3,
        lr=2e-3,
        optimizer="adam",
        clip_norm=1.0,
        carry_state=True,
        metric="bpc",
        log_every=20,
        schedule="plateau",
        lr_decay=2.0,
    )


@dataclass
class LMRunConfig:
    """Everything a language-modeling run needs; saved as ``config.json`` in its run folder."""

    data: LMDataConfig = field(default_factory=LMDataConfig)
    model: LMModelConfig = field(default_factory=LMModelConfig)
    train: TrainConfig = field(default_factory=default_train_config)
    sample: LMSampleConfig = field(default_factory=LMSampleConfig)
