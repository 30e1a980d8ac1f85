"""From a text (a file, a folder, or the built-in corpus) to a vocabulary and train/validation token streams."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from unrolled.data.builtin_corpus import python_stdlib_corpus
from unrolled.data.readers import read_text
from unrolled.tasks.lm.config import LMDataConfig
from unrolled.text.normalize import Normalizer
from unrolled.text.tokenize import get_tokenizer
from unrolled.text.vocab import Vocabulary

#: tokenizer options per tokenizer name: word-level LMs keep line breaks so generated text keeps its lines
TOKENIZER_OPTIONS: dict[str, dict[str, Any]] = {"char": {}, "word": {"keep_newlines": True}}


@dataclass
class TextCodec:
    """Text <-> ids for one run: normaliser, tokenizer and vocabulary, rebuilt identically from a run folder."""

    tokenizer_name: str
    lowercase: bool
    vocab: Vocabulary

    def __post_init__(self) -> None:
        self.tokenizer = get_tokenizer(self.tokenizer_name, **TOKENIZER_OPTIONS[self.tokenizer_name])
        self.normalizer = Normalizer(lowercase=self.lowercase)

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(self.normalizer(text))

    def encode(self, text: str) -> Tensor:
        return torch.tensor(self.vocab.encode(self.tokens(text)), dtype=torch.long)

    def decode(self, ids: list[int] | Tensor) -> str:
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        return self.tokenizer.detokenize([self.vocab.id_to_token(i) for i in ids])

    @property
    def bits_per(self) -> str:
        return "character" if self.tokenizer_name == "char" else "word"


@dataclass
class PreparedCorpus:
    codec: TextCodec
    train_ids: Tensor  # (N_train,)
    valid_ids: Tensor  # (N_valid,)
    source: dict[str, Any]


def load_corpus_text(cfg: LMDataConfig) -> tuple[str, dict[str, Any]]:
    """The raw text and a description of where it came from (recorded in the run's config)."""
    if cfg.path is None:
        corpus = python_stdlib_corpus()
        return corpus.text, {"kind": "builtin:python-stdlib", "modules": list(corpus.modules), "sha256": corpus.sha256}
    text = read_text(cfg.path)
    return text, {"kind": "file", "path": str(cfg.path), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def prepare_corpus(cfg: LMDataConfig) -> PreparedCorpus:
    """Tokenize, split off the last ``valid_fraction`` for validation, build the vocabulary on the training part."""
    text, source = load_corpus_text(cfg)
    probe = TextCodec(cfg.tokenizer, cfg.lowercase, Vocabulary())
    tokens = probe.tokens(text)
    n_valid = int(len(tokens) * cfg.valid_fraction)
    need = 2 * max(cfg.batch_size, cfg.eval_batch_size) + 2
    if n_valid < need or len(tokens) - n_valid < need:
        raise ValueError(
            f"the corpus has {len(tokens)} {cfg.tokenizer} tokens; with valid_fraction={cfg.valid_fraction} it needs "
            f"at least {need} tokens in each split (use more text or a smaller batch size)"
        )
    train_tokens, valid_tokens = tokens[:-n_valid], tokens[-n_valid:]
    vocab = Vocabulary.build(train_tokens, min_freq=cfg.min_freq, max_size=cfg.max_vocab)
    codec = TextCodec(cfg.tokenizer, cfg.lowercase, vocab)
    source.update(chars=len(text), tokens=len(tokens), train_tokens=len(train_tokens), valid_tokens=n_valid)
    train_ids = torch.tensor(vocab.encode(train_tokens), dtype=torch.long)
    valid_ids = torch.tensor(vocab.encode(valid_tokens), dtype=torch.long)
    return PreparedCorpus(codec, train_ids, valid_ids, source)
