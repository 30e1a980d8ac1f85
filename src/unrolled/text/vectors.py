"""Pretrained word vectors (word2vec / GloVe text format) and an embedding matrix for a vocabulary, with coverage.

The text format is one word per line followed by its D numbers, separated by spaces; word2vec files start with a
header line ``"N D"`` (words, dimensions), GloVe files do not (both are read). Every row must have the same D;
a ragged row, a non-number, non-UTF-8 bytes or an empty file is a one-line :class:`VectorsError` naming the file
and line.

:func:`embedding_matrix` builds the (V, D) matrix for a :class:`~unrolled.text.Vocabulary`: rows of words found
in the vectors (exactly, else lower-cased) are copied; the others are drawn from
:math:`\\mathcal N(0, \\sigma^2)` with :math:`\\sigma` the standard deviation of the pretrained values (seeded);
the ``<pad>`` row is zero. The :class:`Coverage` says how many vocabulary words were found, and which share of the
corpus's tokens they cover. Whether the matrix is then frozen or fine-tuned is the model's choice
(e.g. ``SequenceClassifier(..., embedding=matrix, freeze_embedding=True)``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from unrolled.errors import UnrolledError
from unrolled.text.vocab import PAD, Vocabulary

__all__ = ["Coverage", "VectorsError", "WordVectors", "embedding_matrix", "read_word_vectors"]


class VectorsError(UnrolledError, ValueError):
    """A word-vector file that cannot be read (one line, naming the file and line)."""


@dataclass
class WordVectors:
    """Words and their vectors.

    Attributes:
        words: N distinct words, in file order.
        vectors: (N, D) float32.
    """

    words: list[str]
    vectors: Tensor

    def __post_init__(self) -> None:
        if self.vectors.dim() != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"expected vectors (N={len(self.words)}, D), got {tuple(self.vectors.shape)}")
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def dim(self) -> int:
        """D, the vector width."""
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> Tensor:
        return self.vectors[self.index[word]]


def read_word_vectors(path: str | os.PathLike[str], limit: int | None = None) -> WordVectors:
    """Read word2vec (with the ``"N D"`` header) or GloVe (without) text vectors.

    Args:
        path: the file.
        limit: read at most this many words (the files are usually sorted by frequency).

    Raises:
        VectorsError: missing or empty file, non-UTF-8 bytes, a ragged row, a non-number (file and line).

    Shape:
        - output vectors: (N, D).

    Example::

        >>> wv = read_word_vectors("glove.6B.50d.txt", limit=50000)  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise VectorsError(f"{p}: no such file; expected word vectors in word2vec/GloVe text format")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise VectorsError(f"limit must be a positive integer or None, got {limit!r}")
    words: list[str] = []
    rows: list[list[float]] = []
    seen: set[str] = set()
    dim: int | None = None
    declared: int | None = None
    with p.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n").removeprefix("\ufeff" if line_no == 1 else "")
            except UnicodeDecodeError as err:
                raise VectorsError(f"{p}:{line_no}: not valid UTF-8 ({err.reason}); expected UTF-8 text") from None
            parts = line.split()
            if not parts:
                continue
            if line_no == 1 and len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                declared = int(parts[1])  # word2vec header "N D"
                continue
            numbers = parts[1:]
            expected = dim if dim is not None else declared
            if expected is not None and len(numbers) != expected:
                raise VectorsError(
                    f"{p}:{line_no}: ragged row: {len(numbers)} numbers after {parts[0]!r}, expected {expected}"
                )
            if not numbers:
                raise VectorsError(f"{p}:{line_no}: no numbers after {parts[0]!r}; expected a word and its vector")
            try:
                values = [float(x) for x in numbers]
            except ValueError:
                raise VectorsError(f"{p}:{line_no}: not a number in the vector of {parts[0]!r}") from None
            dim = len(values)
            if parts[0] in seen:
                continue  # keep the first (most frequent) entry
            seen.add(parts[0])
            words.append(parts[0])
            rows.append(values)
            if limit is not None and len(words) >= limit:
                break
    if not words:
        raise VectorsError(f"{p} is empty; expected word vectors (one word and its numbers per line)")
    return WordVectors(words, torch.tensor(rows, dtype=torch.float32))


@dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary the pretrained vectors cover (special tokens not counted).

    Attributes:
        found, total: vocabulary words with a vector, and all vocabulary words.
        found_tokens, total_tokens: the same weighted by corpus frequency (0 when no counts were given).
    """

    found: int
    total: int
    found_tokens: int = 0
    total_tokens: int = 0

    @property
    def words(self) -> float:
        """found / total."""
        return self.found / self.total if self.total else 0.0

    @property
    def tokens(self) -> float:
        """found_tokens / total_tokens."""
        return self.found_tokens / self.total_tokens if self.total_tokens else 0.0

    def format(self) -> str:
        s = f"pretrained vectors cover {self.found}/{self.total} vocabulary words ({100 * self.words:.1f}%)"
        if self.total_tokens:
            s += f", {100 * self.tokens:.1f}% of {self.total_tokens} corpus tokens"
        return s


def embedding_matrix(
    vocab: Vocabulary,
    vectors: WordVectors,
    counts: Mapping[str, int] | None = None,
    lowercase: bool = True,
    seed: int = 0,
) -> tuple[Tensor, Coverage]:
    r"""The (V, D) embedding matrix of ``vocab`` initialised from ``vectors``, and its :class:`Coverage`.

    Args:
        vocab: the vocabulary (V tokens).
        vectors: pretrained vectors (D wide).
        counts: corpus frequency of each token, for the token-weighted coverage.
        lowercase: look a word up lower-cased when its exact form is missing.
        seed: for the rows of words without a vector.

    Shape:
        - output: (V, D).

    Example::

        >>> matrix, coverage = embedding_matrix(vocab, read_word_vectors("glove.txt"))  # doctest: +SKIP
        >>> print(coverage.format())  # doctest: +SKIP
    """
    g = torch.Generator().manual_seed(seed)
    sigma = float(vectors.vectors.std()) if vectors.vectors.numel() > 1 else 1.0
    matrix = torch.randn(len(vocab), vectors.dim, generator=g) * sigma  # (V, D)
    specials = set(vocab.specials)
    found = total = found_tokens = total_tokens = 0
    for i, word in enumerate(vocab.tokens):
        if word in specials:
            continue
        total += 1
        n = int(counts.get(word, 0)) if counts is not None else 0
        total_tokens += n
        key = word if word in vectors else (word.lower() if lowercase and word.lower() in vectors else None)
        if key is not None:
            matrix[i] = vectors[key]
            found += 1
            found_tokens += n
    if PAD in specials:
        matrix[vocab.pad_id] = 0.0
    return matrix, Coverage(found, total, found_tokens, total_tokens)
