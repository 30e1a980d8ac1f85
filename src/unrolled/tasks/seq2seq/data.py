"""Pairs of a seq2seq run: read (pair file, aligned files or a built-in task), split, filter, encode and batch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import torch
from torch import Tensor

from unrolled.data.padded import BucketedBatches
from unrolled.data.pairs import filter_pairs, read_aligned, read_pairs_tsv, split_pairs
from unrolled.data.synthetic_pairs import make_pairs
from unrolled.tasks.runs import RunError
from unrolled.tasks.seq2seq.config import Seq2SeqDataConfig
from unrolled.text.tokenize import get_tokenizer
from unrolled.text.vocab import Vocabulary

__all__ = ["Codec", "PairBatches", "Prepared", "load_pairs", "prepare"]

Pair = tuple[str, str]


@dataclass
class Codec:
    """Text <-> ids for both sides: one tokenizer, a source and a target vocabulary (the same one if shared)."""

    tokenizer_name: str
    lowercase: bool
    src_vocab: Vocabulary
    tgt_vocab: Vocabulary

    def __post_init__(self) -> None:
        self.tokenizer = get_tokenizer(self.tokenizer_name)

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text.lower() if self.lowercase else text)

    def encode_src(self, text: str) -> list[int]:
        ids = self.src_vocab.encode(self.tokens(text))
        if not ids:
            raise RunError(f"source {text!r} has no tokens; expected some text")
        return ids

    def encode_tgt(self, text: str) -> list[int]:
        """``<bos> y_1 .. y_n <eos>``."""
        v = self.tgt_vocab
        return [v.bos_id, *v.encode(self.tokens(text)), v.eos_id]

    def decode_tgt(self, ids: list[int]) -> str:
        return self.tokenizer.detokenize(self.tgt_vocab.decode(ids, skip_specials=True))

    def tgt_tokens(self, ids: list[int]) -> list[str]:
        return self.tgt_vocab.decode(ids)


def _read(path: str) -> list[Pair]:
    try:
        return read_pairs_tsv(path)
    except (ValueError, FileNotFoundError) as e:
        raise RunError(str(e)) from None


def load_pairs(cfg: Seq2SeqDataConfig, seed: int) -> tuple[list[Pair], list[Pair], list[Pair] | None, str]:
    """(train, valid, test or None, a description of the source). Deterministic: built-in pairs from ``seed``,
    the held-out split the last ``valid_fraction`` of the pairs."""
    if not cfg.has_source:
        raise RunError(
            "seq2seq needs data: --data PAIRS.tsv, --src FILE --tgt FILE, or --builtin dates|reverse|copy|sort"
        )
    if cfg.builtin is not None:
        pairs, where = (
            make_pairs(cfg.builtin, cfg.builtin_size, seed),
            f"built-in {cfg.builtin} ({cfg.builtin_size} pairs)",
        )
    elif cfg.path is not None:
        pairs, where = _read(cfg.path), cfg.path
    else:
        try:
            pairs = read_aligned(cfg.src, cfg.tgt)  # type: ignore[arg-type]
        except (ValueError, FileNotFoundError) as e:
            raise RunError(str(e)) from None
        where = f"{cfg.src} + {cfg.tgt}"
    if cfg.valid is not None:
        train, valid = pairs, _read(cfg.valid)
    else:
        if len(pairs) < 2:
            raise RunError(f"{where} has {len(pairs)} pair(s); expected at least 2 to hold some out for validation")
        train, valid = split_pairs(pairs, cfg.valid_fraction)
    test = _read(cfg.test) if cfg.test is not None else None
    return train, valid, test, where


@dataclass
class Prepared:
    train: list[Pair]
    valid: list[Pair]
    test: list[Pair] | None
    codec: Codec
    source: dict


def _vocab(texts, codec_tokens, cfg: Seq2SeqDataConfig) -> Vocabulary:
    return Vocabulary.build(chain.from_iterable(codec_tokens(t) for t in texts), min_freq=cfg.min_freq,
                            max_size=cfg.max_vocab)  # fmt: skip


def prepare(cfg: Seq2SeqDataConfig, seed: int) -> Prepared:
    """Read, split, filter (training pairs only) and build the vocabularies from the training pairs."""
    train, valid, test, where = load_pairs(cfg, seed)
    probe = Codec(cfg.tokenizer, cfg.lowercase, Vocabulary(), Vocabulary())
    n_read = len(train)
    if cfg.max_src_len is not None or cfg.max_tgt_len is not None:
        train = filter_pairs(train, probe.tokens, cfg.max_src_len, cfg.max_tgt_len)
        if not train:
            raise RunError(f"no training pair of {where} is within max_src_len/max_tgt_len; raise the limits")
    if cfg.shared_vocab:
        src_vocab = tgt_vocab = _vocab([t for p in train for t in p], probe.tokens, cfg)
    else:
        src_vocab = _vocab([s for s, _ in train], probe.tokens, cfg)
        tgt_vocab = _vocab([t for _, t in train], probe.tokens, cfg)
    codec = Codec(cfg.tokenizer, cfg.lowercase, src_vocab, tgt_vocab)
    source = {"where": where, "train_pairs": len(train), "filtered_pairs": n_read - len(train),
              "valid_pairs": len(valid), "test_pairs": None if test is None else len(test),
              "max_target_tokens": max(len(codec.tokens(t)) for _, t in train)}  # fmt: skip
    return Prepared(train, valid, test, codec, source)


class PairBatches:
    """Length-bucketed batches ``(src (B, S), src_lengths (B,), tgt_in (B, T), tgt_out (B, T))`` with the trainer's
    ``set_epoch`` / ``iter_from`` for exact resumption; ``tgt_in`` is ``<bos> y``, ``tgt_out`` is ``y <eos>``,
    both padded with the target ``<pad>``."""

    def __init__(self, pairs: list[Pair], codec: Codec, batch_size: int, shuffle: bool, seed: int = 0):
        self.codec = codec
        src = [codec.encode_src(s) for s, _ in pairs]
        tgt = [codec.encode_tgt(t) for _, t in pairs]
        self.pad = codec.tgt_vocab.pad_id
        self.batches = BucketedBatches(src, batch_size, pad_id=codec.src_vocab.pad_id, targets=tgt,
                                       target_pad_id=self.pad, shuffle=shuffle, seed=seed)  # fmt: skip

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def iter_from(self, n: int) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor]]:
        for b in self.batches.iter_from(n):
            y = b.targets  # (B, T + 1): <bos> y <eos> <pad>...
            tgt_in = y[:, :-1].masked_fill(y[:, :-1] == self.codec.tgt_vocab.eos_id, self.pad)  # (B, T)
            yield b.inputs, b.lengths, tgt_in, y[:, 1:]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor]]:
        return self.iter_from(0)


def source_batch(codec: Codec, texts: list[str]) -> tuple[Tensor, Tensor]:
    """Padded source ids (B, S) and lengths (B,) of texts, in their order."""
    ids = [codec.encode_src(t) for t in texts]
    S = max(map(len, ids))
    pad = codec.src_vocab.pad_id
    return torch.tensor([r + [pad] * (S - len(r)) for r in ids]), torch.tensor([len(r) for r in ids])
