"""The data side of a tagging run: reading tagged sentences, the word / character vocabularies and the tag set,
encoding, and length-bucketed batches.

Errors are one line: a tag the run does not know in evaluation data names the file, line and the known tags; tags
that break the chunk scheme name the file and line.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from unrolled.data.bucketing import LengthBucketSampler
from unrolled.data.conll import ConllFormatError, TaggedSentence, read_tagged
from unrolled.models.tagger import TagBatch
from unrolled.tasks.tag.config import TagDataConfig
from unrolled.text.tagschemes import MalformedTagsError, check_tags, detect_scheme
from unrolled.text.vocab import Vocabulary

__all__ = ["EncodedSplit", "PreparedTagData", "TagBatches", "TagEncoder", "prepare_data", "read_split", "token_line"]


def read_split(path: str, cfg: TagDataConfig, tags: bool = True) -> list[TaggedSentence]:
    """Tagged sentences of ``path`` read with the run's format, columns and tag set."""
    return read_tagged(path, cfg.format, columns=cfg.column_pair, tagset=cfg.tagset, tags=tags)


def token_line(sent: TaggedSentence, i: int) -> int:
    """1-based file line of token ``i`` of ``sent``."""
    return sent.line - sent.token_lines[0] + sent.token_lines[i]


@dataclass
class TagEncoder:
    """Words, characters and tags to ids with the run's vocabularies (unknown words and characters -> ``<unk>``)."""

    words: Vocabulary
    chars: Vocabulary | None
    tags: list[str]
    lowercase: bool

    @property
    def pad_id(self) -> int:
        return self.words.pad_id

    def word_ids(self, tokens: Sequence[str]) -> list[int]:
        return self.words.encode([t.lower() for t in tokens] if self.lowercase else tokens)

    def char_ids(self, tokens: Sequence[str]) -> list[list[int]] | None:
        if self.chars is None:
            return None
        return [self.chars.encode(list(t)) for t in tokens]

    def tag_ids(self, sent: TaggedSentence, name: str, what: str) -> list[int]:
        index = {t: i for i, t in enumerate(self.tags)}
        out = []
        for i, tag in enumerate(sent.tags or ()):
            if tag not in index:
                shown = ", ".join(self.tags[:20]) + (" ..." if len(self.tags) > 20 else "")
                raise ConllFormatError(
                    f"{name}:{token_line(sent, i)}: unknown tag {tag!r} in the {what}; the run knows "
                    f"{len(self.tags)} tags: {shown}"
                )
            out.append(index[tag])
        return out


@dataclass
class EncodedSplit:
    """Sentences and their ids (``tags`` empty lists when unlabelled)."""

    sentences: list[TaggedSentence]
    words: list[list[int]]
    chars: list[list[list[int]]] | None
    tags: list[list[int]] | None


def encode_split(
    sentences: list[TaggedSentence], encoder: TagEncoder, name: str = "input", what: str = "data"
) -> EncodedSplit:
    words = [encoder.word_ids(s.tokens) for s in sentences]
    chars = [encoder.char_ids(s.tokens) for s in sentences] if encoder.chars is not None else None
    labelled = all(s.tags is not None for s in sentences)
    tags = [encoder.tag_ids(s, name, what) for s in sentences] if labelled else None
    return EncodedSplit(sentences, words, chars, tags)


@dataclass
class PreparedTagData:
    """Everything the run trains on."""

    encoder: TagEncoder
    scheme: str
    train: EncodedSplit
    valid: EncodedSplit
    test: EncodedSplit | None
    counts: Counter
    source: dict[str, Any]


def resolve_scheme(cfg: TagDataConfig, sentences: list[TaggedSentence], name: str) -> str:
    """The run's scheme: the configured one (every training sentence checked against it), or detected."""
    tags = [list(s.tags or ()) for s in sentences]
    try:
        if cfg.scheme == "none":
            return "none"
        if cfg.scheme == "auto":
            try:
                return detect_scheme(tags)
            except MalformedTagsError:
                return "none"  # not chunk tags (e.g. part of speech), or ill-formed ones: plain labels
        for s in sentences:
            check_tags(list(s.tags or ()), cfg.scheme)
        return cfg.scheme
    except MalformedTagsError:
        for s in sentences:  # say where, in file terms
            try:
                check_tags(list(s.tags or ()), cfg.scheme)
            except MalformedTagsError as e:
                detail = str(e).split(": ", 1)[-1]
                raise MalformedTagsError(f"{name}:{s.line}: sentence at this line: {detail}") from None
        raise


def prepare_data(cfg: TagDataConfig) -> PreparedTagData:
    """Read every split, build the vocabularies and the tag set from the training data, and encode."""
    from unrolled.tasks.runs import RunError

    if cfg.path is None:
        raise RunError("tag needs --data FILE (CoNLL or CoNLL-U tagged sentences)")
    if cfg.valid is None:
        raise RunError("tag needs --valid FILE (tagged sentences for validation, in the format of --data)")
    train = read_split(cfg.path, cfg)
    valid = read_split(cfg.valid, cfg)
    test = read_split(cfg.test, cfg) if cfg.test is not None else None
    scheme = resolve_scheme(cfg, train, cfg.path)
    tags = sorted({t for s in train for t in s.tags or ()}, key=lambda t: (t != "O", t))
    if len(tags) < 2:
        raise RunError(f"{cfg.path}: one tag ({tags[0]!r}) in the training data; expected two or more")
    words = [t.lower() if cfg.lowercase else t for s in train for t in s.tokens]
    counts = Counter(words)
    vocab = Vocabulary.build(words, min_freq=cfg.min_freq, max_size=cfg.max_vocab)
    chars = Vocabulary.build(itertools.chain.from_iterable(t for s in train for t in s.tokens))
    encoder = TagEncoder(vocab, chars, tags, cfg.lowercase)
    source = {
        "path": cfg.path,
        "train": len(train),
        "valid": len(valid),
        "test": len(test) if test is not None else 0,
        "train_tokens": sum(len(s.tokens) for s in train),
    }
    return PreparedTagData(
        encoder,
        scheme,
        encode_split(train, encoder, cfg.path, "training data"),
        encode_split(valid, encoder, cfg.valid, "validation data"),
        encode_split(test, encoder, cfg.test, "test data") if test is not None else None,
        counts,
        source,
    )


class TagBatches:
    """Length-bucketed :class:`~unrolled.models.TagBatch` es of a split, with the trainer's ``set_epoch`` /
    ``iter_from`` / ``shard`` (:class:`~unrolled.data.LengthBucketSampler`)."""

    def __init__(
        self, split: EncodedSplit, batch_size: int, pad_id: int, shuffle: bool, seed: int = 0, chars: bool = False
    ):
        self.split, self.pad_id, self.use_chars = split, pad_id, chars
        lengths = [len(w) for w in split.words]
        self.sampler = LengthBucketSampler(
            lengths, batch_size, shuffle=shuffle, seed=seed, pool_batches=50 if shuffle else 1
        )

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def shard(self, rank: int, world_size: int) -> TagBatches:
        out = object.__new__(TagBatches)
        out.__dict__.update(self.__dict__)
        out.sampler = self.sampler.shard(rank, world_size)
        return out

    def __len__(self) -> int:
        return len(self.sampler)

    def collate(self, idx: list[int]) -> TagBatch:
        s = self.split
        return TagBatch.collate(
            [s.words[i] for i in idx],
            [s.tags[i] for i in idx] if s.tags is not None else None,
            [s.chars[i] for i in idx] if self.use_chars and s.chars is not None else None,
            indices=idx,
            pad_id=self.pad_id,
        )

    def iter_from(self, n: int) -> Iterator[TagBatch]:
        for idx in self.sampler.iter_from(n):
            yield self.collate(idx)

    def __iter__(self) -> Iterator[TagBatch]:
        return self.iter_from(0)
