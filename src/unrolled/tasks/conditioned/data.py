"""The data side of a conditioned-generation run: reading labelled sequences, the label set, the vocabulary, and
the encoding ``<bos> x_1 .. x_n <eos>`` of every sequence, batched with its label id.

Two layouts are read: a folder of ``LABEL.txt`` files (one sequence per line, the label the file's stem; the
layout of ``names/``), or a TSV file of ``label<TAB>text`` lines. Errors are one line naming the file (and line):
an empty folder or file, bytes that are not UTF-8, a line with one column, an unknown label in held-out data.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from unrolled.data.labelled import LabelledData, LabelledDataError, read_labelled, stratified_split
from unrolled.tasks.classify.data import Split, TextEncoder, encode_labels
from unrolled.tasks.conditioned.config import ConditionedDataConfig
from unrolled.text.tokenize import get_tokenizer
from unrolled.text.vocab import Vocabulary

__all__ = ["PreparedData", "SequenceEncoder", "encode_split", "prepare_data", "read_sequences", "unknown_label"]


def read_sequences(path: str) -> LabelledData:
    """A folder of ``LABEL.txt`` files, or a TSV file of ``label<TAB>text`` lines (extra columns ignored)."""
    p = Path(path)
    if p.is_dir():
        return read_labelled(p)
    return read_labelled(p, text_column=1, label_column=0, header=False, delimiter="\t")


def unknown_label(label: str, labels: list[str], where: str) -> LabelledDataError:
    """The one-line error for a label the run was not trained on, listing the labels it knows."""
    shown = ", ".join(labels[:30]) + (" ..." if len(labels) > 30 else "")
    return LabelledDataError(f"{where}: unknown label {label!r}; the run knows {len(labels)} labels: {shown}")


@dataclass
class SequenceEncoder:
    """Texts to ``<bos> ids <eos>`` (the run's tokenizer, lower-casing and vocabulary) and ids back to text."""

    text: TextEncoder

    @property
    def vocab(self) -> Vocabulary:
        return self.text.vocab

    def encode(self, text: str, source: str = "input") -> Tensor:
        ids = self.text.encode(text, source)  # (n,); an empty text is a one-line error
        v = self.vocab
        return torch.cat([torch.tensor([v.bos_id]), ids, torch.tensor([v.eos_id])])  # (n + 2,)

    def decode(self, ids: list[int]) -> str:
        tokens = self.vocab.decode(ids, skip_specials=True)
        return get_tokenizer(self.text.tokenizer).detokenize(tokens)


def encode_split(data: LabelledData, encoder: SequenceEncoder, labels: list[str], what: str) -> Split:
    """Every sequence as ``<bos> ids <eos>`` and its label id (an unknown label: one line, naming the labels)."""
    ids = [encoder.encode(t, s) for t, s in zip(data.texts, data.sources)]
    return Split(ids, encode_labels(data, labels, False, what), data)


@dataclass
class PreparedData:
    """Everything the run trains on; ``label_counts`` are the training split's (the prior of the unconditioned
    baseline)."""

    encoder: SequenceEncoder
    labels: list[str]
    label_counts: list[int]
    train: Split
    valid: Split
    max_tokens: int
    source: dict[str, Any]


def held_out(cfg: ConditionedDataConfig, seed: int) -> tuple[LabelledData, LabelledData]:
    """``(train, valid)``: the ``valid`` file, or a stratified ``valid_fraction`` of ``path`` (seeded)."""
    if cfg.path is None:
        raise LabelledDataError("conditioned needs --data PATH (a folder of LABEL.txt files or a label<TAB>text file)")
    data = read_sequences(cfg.path)
    if cfg.valid is not None:
        return data, read_sequences(cfg.valid)
    train, valid = stratified_split(data, cfg.valid_fraction, seed=seed)
    if len(valid) == 0:
        raise LabelledDataError(
            f"{cfg.path}: too few sequences to hold out a validation split; give --valid PATH or more data"
        )
    return train, valid


def prepare_data(cfg: ConditionedDataConfig, seed: int) -> PreparedData:
    """Read, split, build the label set and the vocabulary (from the training split only), encode both splits."""
    train, valid = held_out(cfg, seed)
    labels = train.classes
    tokenizer = get_tokenizer(cfg.tokenizer)
    tokenized = [tokenizer.tokenize(t.lower() if cfg.lowercase else t) for t in train.texts]
    vocab = Vocabulary.build(itertools.chain.from_iterable(tokenized), min_freq=cfg.min_freq, max_size=cfg.max_vocab)
    encoder = SequenceEncoder(TextEncoder(cfg.tokenizer, cfg.lowercase, vocab))
    train_split = encode_split(train, encoder, labels, "training data")
    valid_split = encode_split(valid, encoder, labels, "validation data")
    counts = Counter(lab[0] for lab in train.labels)
    source = {"path": cfg.path, "train": len(train), "valid": len(valid)}
    max_tokens = max(len(x) for x in train_split.ids) - 2
    return PreparedData(encoder, labels, [counts[c] for c in labels], train_split, valid_split, max_tokens, source)
