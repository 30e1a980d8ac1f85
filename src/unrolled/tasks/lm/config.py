"""The configuration of a language-modeling run: data, model, training, sampling (typed, checked when built).

Names are checked against the registries that resolve them: ``data.tokenizer`` (:data:`~unrolled.text.TOKENIZERS`),
``data.eos`` (:data:`~unrolled.tasks.lm.codec.EOS_MODES`), ``model.family`` (:data:`FAMILIES`), ``model.cell``
(the cell registry), ``model.smoothing`` (:data:`~unrolled.models.ngram.SMOOTHINGS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from unrolled.cells.registry import CELLS
from unrolled.config_io import from_dict, to_dict
from unrolled.models.ngram import SMOOTHINGS
from unrolled.tasks.lm.codec import DEFAULT_EOS, EOS_MODES, TOKEN_UNITS
from unrolled.tasks.lm.families import FAMILIES
from unrolled.tasks.resolve import check_sections as _check_sections
from unrolled.text.tokenize import TOKENIZERS
from unrolled.text.vocab import SPECIAL_TOKENS
from unrolled.train.config import TrainConfig

#: ``data.stop_words`` value that selects the built-in English list (any other value is a file of words)
BUILTIN_STOP_WORDS = "english"


def _positive(section: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{section}.{name} must be a positive integer, got {value!r}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class LMDataConfig:
    """Where the text comes from, how it is normalised and tokenized, and how it is cut into training batches.

    Args:
        path: a UTF-8 text file or a folder of ``.txt`` files; ``None`` trains on the built-in corpus (the source
            of some of Python's standard-library modules).
        tokenizer: ``char``, ``word`` or ``whitespace`` (pre-tokenized text: the tokens are exactly the
            whitespace-separated strings, as in the Penn Treebank files of Mikolov et al. 2010).
            lowercase: lower-case the text first.
        unk_token: the corpus's own unknown-word token (``<unk>`` in PTB), read as the vocabulary's ``<unk>``
            (``None``: only ``<unk>`` itself is); words or whitespace tokenizer.
        strip_punctuation, strip_numbers, strip_special: remove punctuation, digits, or symbols and control
            characters before tokenizing (see :class:`~unrolled.text.Normalizer`).
        stop_words: drop stop words (word tokenizer only): ``"english"`` for the built-in list, or the path of a
            file with one word per line; the list is copied into the run folder and applied again when generating
            and evaluating. ``None``: keep every word.
        eos: where ``<eos>`` goes: ``none``, ``line`` or ``document`` (see ``EOS_MODES``); default ``line`` for
            words, ``none`` for characters.
        min_freq / max_vocab: vocabulary limits (rarer tokens become ``<unk>``); ``max_vocab`` counts the 4 special
            tokens.
        valid_fraction: the last fraction of the token stream held out for validation (when ``valid`` is not given).
        valid / test: files (or folders of ``.txt`` files) of the standard validation and test splits; the
            vocabulary comes from the training text only (their unseen words read as ``<unk>``). The test split is
            scored once, at the end of training, with the best weights (``RUN/test.json``), and is what
            ``unrolled evaluate RUN`` scores without ``--data``.
        variable_bptt: variable-length BPTT (Merity et al. 2018, sec. 4.1): each chunk has length
            :math:`\\max(5, \\lfloor \\mathcal N(k, 5) \\rfloor)` with :math:`k` = ``bptt`` (probability 0.95) or
            ``bptt / 2``, and its gradient is scaled by length / bptt (the paper rescales the learning rate).
        batch_size: B rows of the contiguous stream. bptt: k1, steps per chunk (truncated BPTT); ``0`` is full
            BPTT: each row is one chunk, back-propagated from its end to its start.
        k2: steps back-propagated per update (Williams & Peng 1990); ``None`` means k2 = k1 = bptt.
        eval_batch_size: rows of the validation stream.
    """

    path: str | None = None
    tokenizer: str = "char"
    lowercase: bool = False
    strip_punctuation: bool = False
    strip_numbers: bool = False
    strip_special: bool = False
    stop_words: str | None = None
    eos: str | None = None
    min_freq: int = 1
    max_vocab: int | None = None
    valid_fraction: float = 0.1
    valid: str | None = None
    test: str | None = None
    unk_token: str | None = None
    variable_bptt: bool = False
    batch_size: int = 32
    bptt: int = 100
    k2: int | None = None
    eval_batch_size: int = 16

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"data.tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}")
        if self.eos is None:
            self.eos = DEFAULT_EOS[self.tokenizer]
        if self.eos not in EOS_MODES:
            raise ValueError(f"data.eos must be one of {', '.join(EOS_MODES)}, got {self.eos!r}")
        if self.stop_words is not None:
            if not isinstance(self.stop_words, str) or not self.stop_words:
                raise ValueError(f"data.stop_words must be 'english' or a file path, got {self.stop_words!r}")
            if self.tokenizer != "word":
                raise ValueError("data.stop_words needs data.tokenizer = 'word' (characters have no stop words)")
        for name in ("min_freq", "batch_size", "eval_batch_size"):
            _positive("data", name, getattr(self, name))
        if not isinstance(self.bptt, int) or isinstance(self.bptt, bool) or self.bptt < 0:
            raise ValueError(f"data.bptt must be an integer >= 0 (0: full BPTT over each row), got {self.bptt!r}")
        n_special = len(SPECIAL_TOKENS)
        if self.max_vocab is not None and (
            not isinstance(self.max_vocab, int) or isinstance(self.max_vocab, bool) or self.max_vocab <= n_special
        ):
            raise ValueError(
                f"data.max_vocab must be an integer >= {n_special + 1} (it counts the {n_special} special tokens), "
                f"got {self.max_vocab!r}"
            )
        if self.k2 is not None:
            if self.bptt == 0:
                raise ValueError("data.k2 must be null with data.bptt = 0 (full BPTT has no truncation)")
            if not isinstance(self.k2, int) or isinstance(self.k2, bool) or self.k2 < self.bptt:
                raise ValueError(f"data.k2 must be an integer >= data.bptt = {self.bptt}, got {self.k2!r}")
        for name in ("valid", "test", "unk_token"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v or (name == "unk_token" and v.split() != [v])):
                what = "a token without spaces" if name == "unk_token" else "a file path"
                raise ValueError(f"data.{name} must be null or {what}, got {v!r}")
        if self.unk_token is not None and self.tokenizer == "char":
            raise ValueError("data.unk_token needs data.tokenizer = 'word' or 'whitespace' (characters have none)")
        if not isinstance(self.variable_bptt, bool):
            raise ValueError(f"data.variable_bptt must be true or false, got {self.variable_bptt!r}")
        if self.variable_bptt and (self.bptt < 2 or self.k2 is not None):
            raise ValueError("data.variable_bptt needs data.bptt >= 2 and data.k2 = null")
        if not _number(self.valid_fraction) or not 0.0 < self.valid_fraction < 0.5:
            raise ValueError(f"data.valid_fraction must be in (0, 0.5), got {self.valid_fraction!r}")


@dataclass
class LMModelConfig:
    """Which model: ``family`` picks the recurrent LM or one of the two baselines; the other fields apply to the
    family that uses them (``FAMILIES[family].keys``).

    Args:
        family: ``rnn`` (:class:`~unrolled.models.RNNLanguageModel`), ``fixed_window`` (Bengio et al. 2003) or
            ``ngram`` (Kneser-Ney or add-k smoothed counts).
        cell, embed_dim, hidden, layers, dropout, tie_weights, recurrent_dropout, zoneout, residual, cell_options:
            the recurrent model (see :class:`~unrolled.models.RNNLMConfig`); ``embed_dim``, ``hidden`` and
            ``dropout`` also size the fixed-window model. ``cell_options`` are checked by building the layers once.
        init: initialisation by name (:data:`~unrolled.layers.init.INITIALIZERS`): ``default``, ``uniform:0.1``
            (every parameter, Zaremba et al. 2014), ``orthogonal``, ...
        last_hidden, weight_drop, embed_dropout, locked_dropout, input_dropout, output_dropout: the AWD-LSTM
            regularisers of Merity et al. 2018, each usable alone (see :class:`~unrolled.models.RNNLMConfig`).
        softmax: ``full`` or ``adaptive`` (Grave et al. 2017): the adaptive softmax's head scores the most frequent
            words (the vocabulary's ids are frequency-ordered: specials first, then most frequent first) and one entry
            per tail cluster of rarer words. cutoffs: its cluster boundaries, increasing ids in (0, V) (``null``:
            ``(V // 5, V // 2)``). div_value: tail cluster i projects to ``hidden / div_value**i`` units (default 4).
            See :class:`~unrolled.models.RNNLanguageModel`; ``tie_weights`` is refused with ``adaptive``.
        ar, tar: activation regularisation :math:`\alpha` and temporal activation regularisation :math:`\beta`
            (Merity et al. 2018, sec. 4.6), added to the training loss only.
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
    ar: float = 0.0
    tar: float = 0.0
    context: int = 8
    direct: bool = True
    order: int = 5
    smoothing: str = "kneser_ney"
    add_k: float = 0.1
    discount: float = 0.75

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"model.family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        if self.smoothing not in SMOOTHINGS:
            raise ValueError(f"model.smoothing must be one of {', '.join(SMOOTHINGS)}, got {self.smoothing!r}")
        for name in ("embed_dim", "hidden", "layers", "context", "order"):
            _positive("model", name, getattr(self, name))
        for name in ("dropout", "recurrent_dropout", "zoneout", "weight_drop", "embed_dropout"):
            v = getattr(self, name)
            if not _number(v) or not 0.0 <= v < 1.0:
                raise ValueError(f"model.{name} must be in [0, 1), got {v!r}")
        for name in ("input_dropout", "output_dropout"):
            v = getattr(self, name)
            if v is not None and (not _number(v) or not 0.0 <= v < 1.0):
                raise ValueError(f"model.{name} must be null (= model.dropout) or in [0, 1), got {v!r}")
        for name in ("ar", "tar"):
            v = getattr(self, name)
            if not _number(v) or not 0.0 <= v < math.inf:
                raise ValueError(f"model.{name} must be a finite number >= 0, got {v!r}")
        if not isinstance(self.locked_dropout, bool):
            raise ValueError(f"model.locked_dropout must be true or false, got {self.locked_dropout!r}")
        if self.last_hidden is not None:
            _positive("model", "last_hidden", self.last_hidden)
        if not _number(self.add_k) or not 0 < self.add_k < math.inf:
            raise ValueError(f"model.add_k must be > 0, got {self.add_k!r}")
        if not _number(self.discount) or not 0.0 < self.discount < 1.0:
            raise ValueError(f"model.discount must be in (0, 1), got {self.discount!r}")
        check = FAMILIES[self.family].check
        if check is not None:
            check(self)


@dataclass
class LMSampleConfig:
    """Samples printed while training (``every`` steps, and after each validation) and the defaults of generation.

    Args:
        every: print a sample every this many optimizer steps (0: only after validations).
        length: tokens per sample. temperature (>= 0, 0 = greedy), top_k (>= 1), top_p (in (0, 1]): sampling
            settings. prime: text to start from (empty: the start of a line). seed: sampling seed.
        stop_at_eos: end a generated piece at its first ``<eos>`` (a newline for runs without ``<eos>``).
    """

    every: int = 0
    length: int = 200
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    prime: str = ""
    seed: int = 0
    stop_at_eos: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.every, int) or isinstance(self.every, bool) or self.every < 0:
            raise ValueError(f"sample.every must be an integer >= 0, got {self.every!r}")
        if not isinstance(self.length, int) or isinstance(self.length, bool) or self.length < 0:
            raise ValueError(f"sample.length must be an integer >= 0, got {self.length!r}")
        if not _number(self.temperature) or not 0 <= self.temperature < math.inf:
            raise ValueError(f"sample.temperature must be a finite number >= 0 (0: greedy), got {self.temperature!r}")
        top_k = self.top_k
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            raise ValueError(f"sample.top_k must be null or an integer >= 1, got {self.top_k!r}")
        if self.top_p is not None and (not _number(self.top_p) or not 0 < self.top_p <= 1):
            raise ValueError(f"sample.top_p must be null or a number in (0, 1], got {self.top_p!r}")
        if not isinstance(self.prime, str):
            raise ValueError(f"sample.prime must be a string, got {self.prime!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"sample.seed must be an integer, got {self.seed!r}")
        if not isinstance(self.stop_at_eos, bool):
            raise ValueError(f"sample.stop_at_eos must be true or false, got {self.stop_at_eos!r}")


def default_metric(tokenizer: str) -> str:
    """The metric shown while training: bits per character for characters, perplexity for words."""
    unit = TOKEN_UNITS.get(tokenizer)
    return unit.metric if unit is not None else "loss"


def default_train_config(tokenizer: str = "char") -> TrainConfig:
    """Training defaults of the main job: Adam, clipping, divide-on-plateau; the metric follows the tokenizer."""
    return TrainConfig(
        epochs=3,
        lr=2e-3,
        optimizer="adam",
        clip_norm=1.0,
        carry_state=True,
        metric=default_metric(tokenizer),
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


#: sections of an LM config; each must be a table in a config file or a --set
SECTIONS = ("data", "model", "train", "sample")

#: (section, key) pairs whose default depends on ``data.tokenizer``: left out of :func:`default_raw_config` and
#: resolved by :func:`build_run_config`
TOKENIZER_DEPENDENT = (("data", "eos"), ("train", "metric"))


def default_raw_config() -> dict[str, dict[str, Any]]:
    """The defaults as a dict of sections, without the keys whose default depends on the tokenizer."""
    raw = to_dict(LMRunConfig())
    for section, key in TOKENIZER_DEPENDENT:
        del raw[section][key]
    return raw


def check_sections(raw: dict[str, Any], source: str | None = None) -> None:
    """One-line ConfigError unless every section of ``raw`` is a table (``source``: the file it came from)."""
    _check_sections(SECTIONS, raw, source)


def build_run_config(raw: dict[str, Any]) -> LMRunConfig:
    """The typed, checked config of a dict of sections, with the tokenizer-dependent defaults resolved once."""
    check_sections(raw)
    train = raw.get("train")
    if isinstance(train, dict) and "metric" not in train:
        tokenizer = (raw.get("data") or {}).get("tokenizer", "char")
        raw = {**raw, "train": {**train, "metric": default_metric(tokenizer) if isinstance(tokenizer, str) else "loss"}}
    return from_dict(LMRunConfig, raw)
