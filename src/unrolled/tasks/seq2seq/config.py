"""The configuration of a seq2seq run: data, model, teacher forcing, training (typed, checked when built)."""

from __future__ import annotations

from dataclasses import dataclass, field

from unrolled.data.synthetic_pairs import SYNTHETIC_TASKS
from unrolled.models.encoder_decoder import Seq2SeqConfig
from unrolled.text.tokenize import TOKENIZERS
from unrolled.train.config import TrainConfig
from unrolled.train.teacher_forcing import TEACHER_FORCING_SCHEDULES, build_teacher_forcing

__all__ = ["Seq2SeqDataConfig", "Seq2SeqRunConfig", "TeacherForcingConfig"]


def _positive(name: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or null' if optional else ''}, got {value!r}")


@dataclass
class Seq2SeqDataConfig:
    """Where the pairs come from and how they are split, tokenised and batched.

    Args:
        path: a tab-separated pair file (``source<TAB>target``, extra columns ignored: the Tatoeba format).
        src / tgt: two aligned files, one sentence per line (instead of ``path``).
        builtin: a built-in task (``dates``, ``reverse``, ``copy``, ``sort``) of ``builtin_size`` pairs.
        valid / test: pair files in the ``path`` format; without ``valid`` the last ``valid_fraction`` of the
            pairs is held out.
        tokenizer: ``char``, ``word`` or ``whitespace`` (pre-tokenised text). lowercase: lower-case both sides.
        shared_vocab: one vocabulary for both sides. min_freq / max_vocab: vocabulary limits per side.
        max_src_len / max_tgt_len: drop training pairs with longer sides (tokens).
        batch_size / eval_batch_size: pairs per batch (length-bucketed).
    """

    path: str | None = None
    src: str | None = None
    tgt: str | None = None
    builtin: str | None = None
    builtin_size: int = 20000
    valid: str | None = None
    test: str | None = None
    valid_fraction: float = 0.1
    tokenizer: str = "char"
    lowercase: bool = False
    shared_vocab: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    max_src_len: int | None = None
    max_tgt_len: int | None = None
    batch_size: int = 64
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        sources = [n for n, v in (("path", self.path), ("src", self.src), ("builtin", self.builtin)) if v is not None]
        if len(sources) > 1:
            raise ValueError(f"data: give one of path (--data), src/tgt (--src --tgt) or builtin, got {sources}")
        if (self.src is None) != (self.tgt is None):
            raise ValueError("data.src and data.tgt go together (--src FILE --tgt FILE)")
        if self.builtin is not None and self.builtin not in SYNTHETIC_TASKS:
            raise ValueError(f"data.builtin must be one of {sorted(SYNTHETIC_TASKS)}, got {self.builtin!r}")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"data.tokenizer must be one of {sorted(TOKENIZERS)}, got {self.tokenizer!r}")
        for name in ("builtin_size", "min_freq", "batch_size", "eval_batch_size"):
            _positive(f"data.{name}", getattr(self, name))
        for name in ("max_vocab", "max_src_len", "max_tgt_len"):
            _positive(f"data.{name}", getattr(self, name), optional=True)
        v = self.valid_fraction
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ValueError(f"data.valid_fraction must be a number in (0, 1), got {v!r}")

    @property
    def has_source(self) -> bool:
        return any(v is not None for v in (self.path, self.src, self.builtin))


@dataclass
class TeacherForcingConfig:
    """What the decoder is fed while training (Bengio et al. 2015): the reference token with probability
    :math:`\\epsilon_e` at epoch e, else a draw from its own previous distribution.

    Args:
        probability: :math:`\\epsilon_0` (1.0: teacher forcing; 0.0: free running).
        schedule: ``constant``, ``linear``, ``exponential`` or ``inverse_sigmoid`` (per epoch).
        slope: the linear decay per epoch. k: the exponential base (< 1) or the inverse-sigmoid k (>= 1);
            default 0.8 and 3. floor: the lowest probability of the linear and exponential decays.
        label_smoothing: the cross-entropy's label smoothing (Szegedy et al. 2016), 0 for none.
    """

    probability: float = 1.0
    schedule: str = "constant"
    slope: float = 0.1
    k: float | None = None
    floor: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if self.schedule not in TEACHER_FORCING_SCHEDULES:
            raise ValueError(
                f"teacher.schedule must be one of {sorted(TEACHER_FORCING_SCHEDULES)}, got {self.schedule!r}"
            )
        ls = self.label_smoothing
        if isinstance(ls, bool) or not isinstance(ls, (int, float)) or not 0 <= ls < 1:
            raise ValueError(f"teacher.label_smoothing must be a number in [0, 1), got {ls!r}")
        self.build()  # the schedule's own one-line checks

    def build(self):
        """The schedule epoch -> probability."""
        if self.schedule == "constant":
            return build_teacher_forcing("constant", start=self.probability)
        if self.schedule == "linear":
            return build_teacher_forcing("linear", start=self.probability, slope=self.slope, floor=self.floor)
        if self.schedule == "exponential":
            return build_teacher_forcing("exponential", k=self.k if self.k is not None else 0.8, floor=self.floor)
        return build_teacher_forcing("inverse_sigmoid", k=self.k if self.k is not None else 3.0)


def _default_model() -> Seq2SeqConfig:
    return Seq2SeqConfig(embed_dim=64, hidden=128, dropout=0.1)


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=10, lr=2e-3, clip_norm=5.0)


@dataclass
class Seq2SeqRunConfig:
    """A seq2seq run: ``data``, ``model`` (:class:`~unrolled.models.Seq2SeqConfig`), ``teacher`` and ``train``."""

    data: Seq2SeqDataConfig = field(default_factory=Seq2SeqDataConfig)
    model: Seq2SeqConfig = field(default_factory=_default_model)
    teacher: TeacherForcingConfig = field(default_factory=TeacherForcingConfig)
    train: TrainConfig = field(default_factory=_default_train)
