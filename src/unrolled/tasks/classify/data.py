"""The data side of a classification run: reading the labelled texts, labels and vocabulary, encoding, batches.

Errors are one line: an unknown label in validation, test or evaluation data names the file and line and the
labels the run knows; a text with no tokens names its file and line.
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from unrolled.data.bucketing import LengthBucketSampler
from unrolled.data.labelled import LabelledData, LabelledDataError, read_labelled, stratified_split
from unrolled.data.padded import pad_batch
from unrolled.tasks.classify.config import ClassifyDataConfig, column_spec
from unrolled.text.tokenize import get_tokenizer
from unrolled.text.vocab import Vocabulary

__all__ = ["ClassifyBatches", "PreparedData", "TextEncoder", "encode_labels", "prepare_data", "read_split"]


def read_split(path: str, cfg: ClassifyDataConfig) -> LabelledData:
    """Read a labelled file or folder with the run's column settings."""
    return read_labelled(
        path,
        text_column=column_spec(cfg.text_column),
        label_column=column_spec(cfg.label_column),
        header=cfg.header,
        delimiter=cfg.delimiter,
        label_separator=cfg.label_separator if cfg.multi_label else None,
    )


@dataclass
class TextEncoder:
    """Texts to token ids: the run's tokenizer, lower-casing and vocabulary."""

    tokenizer: str
    lowercase: bool
    vocab: Vocabulary

    def tokens(self, text: str) -> list[str]:
        return get_tokenizer(self.tokenizer).tokenize(text.lower() if self.lowercase else text)

    def encode(self, text: str, source: str = "input") -> Tensor:
        ids = self.vocab.encode(self.tokens(text))
        if not ids:
            raise LabelledDataError(f"{source}: the text {text!r} has no {self.tokenizer} tokens; expected some")
        return torch.tensor(ids, dtype=torch.long)


def encode_labels(data: LabelledData, labels: Sequence[str], multi_label: bool, what: str) -> Tensor:
    """Class ids (N,), or 0/1 indicators (N, C) for multi-label data; an unknown label is a one-line error."""
    index = {label: i for i, label in enumerate(labels)}
    rows = []
    for labs, source in zip(data.labels, data.sources):
        for lab in labs:
            if lab not in index:
                shown = ", ".join(labels[:20]) + (" ..." if len(labels) > 20 else "")
                raise LabelledDataError(
                    f"{source}: unknown label {lab!r} in the {what}; the run knows {len(labels)} labels: {shown}"
                )
        if multi_label:
            row = [0] * len(labels)
            for lab in labs:
                row[index[lab]] = 1
            rows.append(row)
        else:
            if len(labs) != 1:
                raise LabelledDataError(f"{source}: {len(labs)} labels; expected one (or train with --multi-label)")
            rows.append(index[labs[0]])
    return torch.tensor(rows, dtype=torch.long)


@dataclass
class Split:
    """One encoded split: token ids per example, targets, and where the examples came from."""

    ids: list[Tensor]
    targets: Tensor
    data: LabelledData


def encode_split(data: LabelledData, encoder: TextEncoder, labels: Sequence[str], multi_label: bool, what: str):
    ids = [encoder.encode(t, s) for t, s in zip(data.texts, data.sources)]
    return Split(ids, encode_labels(data, labels, multi_label, what), data)


@dataclass
class PreparedData:
    """Everything the run trains on."""

    encoder: TextEncoder
    labels: list[str]
    train: Split
    valid: Split
    test: Split | None
    counts: Counter
    source: dict[str, Any]


def prepare_data(cfg: ClassifyDataConfig, seed: int) -> PreparedData:
    """Read, split, build the label set and vocabulary (from the training split only), and encode every split."""
    if cfg.path is None:
        raise LabelledDataError("classify needs --data FILE_OR_DIR (a CSV/TSV file or a folder per class)")
    data = read_split(cfg.path, cfg)
    if cfg.valid is not None:
        train, valid = data, read_split(cfg.valid, cfg)
    else:
        train, valid = stratified_split(data, cfg.valid_fraction, seed=seed)
        if len(valid) == 0:
            raise LabelledDataError(
                f"{cfg.path}: too few examples to hold out a validation split; give --valid FILE or more data"
            )
    test = read_split(cfg.test, cfg) if cfg.test is not None else None
    labels = train.classes
    if len(labels) < 2 and not cfg.multi_label:
        raise LabelledDataError(f"{cfg.path}: one label ({labels[0]!r}) in the training data; expected two or more")
    if train.multi_label and not cfg.multi_label:
        raise LabelledDataError(f"{cfg.path}: examples with several labels; train with --multi-label")
    tokenizer = get_tokenizer(cfg.tokenizer)
    tokenized = [tokenizer.tokenize(t.lower() if cfg.lowercase else t) for t in train.texts]
    counts = Counter(itertools.chain.from_iterable(tokenized))
    vocab = Vocabulary.build(itertools.chain.from_iterable(tokenized), min_freq=cfg.min_freq, max_size=cfg.max_vocab)
    encoder = TextEncoder(cfg.tokenizer, cfg.lowercase, vocab)
    ml = cfg.multi_label
    source = {
        "path": cfg.path,
        "examples": len(data),
        "train": len(train),
        "valid": len(valid),
        "test": len(test) if test is not None else 0,
    }
    return PreparedData(
        encoder,
        labels,
        encode_split(train, encoder, labels, ml, "training data"),
        encode_split(valid, encoder, labels, ml, "validation data"),
        encode_split(test, encoder, labels, ml, "test data") if test is not None else None,
        counts,
        source,
    )


class ClassifyBatches:
    """Length-bucketed batches ``(ids (B, T), lengths (B,), targets (B,) or (B, C))`` of a split, with the
    trainer's ``set_epoch`` / ``iter_from`` for exact resumption (:class:`~unrolled.data.LengthBucketSampler`)."""

    def __init__(self, split: Split, batch_size: int, pad_id: int, shuffle: bool, seed: int = 0):
        self.split, self.pad_id = split, pad_id
        self.sampler = LengthBucketSampler(
            [len(s) for s in split.ids], batch_size, shuffle=shuffle, seed=seed, pool_batches=50 if shuffle else 1
        )

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def shard(self, rank: int, world_size: int) -> ClassifyBatches:
        """This rank's rows of every global batch (distributed training; see ``LengthBucketSampler.shard``)."""
        out = copy.copy(self)
        out.sampler = self.sampler.shard(rank, world_size)
        return out

    def __len__(self) -> int:
        return len(self.sampler)

    def _collate(self, idx: list[int]) -> tuple[Tensor, Tensor, Tensor]:
        x, lengths = pad_batch([self.split.ids[i] for i in idx], self.pad_id)  # (B, T), (B,)
        return x, lengths, self.split.targets[torch.tensor(idx)]

    def iter_from(self, n: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        for idx in self.sampler.iter_from(n):
            yield self._collate(idx)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        return self.iter_from(0)

    def in_order(self) -> Iterator[tuple[list[int], Tensor, Tensor]]:
        """Unshuffled batches as ``(indices, ids, lengths)`` (for predictions in the data's order)."""
        for idx in self.sampler.batches():
            x, lengths = pad_batch([self.split.ids[i] for i in idx], self.pad_id)
            yield idx, x, lengths
