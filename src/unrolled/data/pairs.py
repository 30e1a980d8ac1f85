"""Sentence-pair corpora for sequence-to-sequence tasks: tab-separated pair files and aligned text files.

* :func:`read_pairs_tsv`: one pair per line, ``source<TAB>target[<TAB>anything]`` (the Tatoeba / manythings.org
  ``eng-fra.txt`` format: a third column holds the attribution and is ignored).
* :func:`read_aligned`: two UTF-8 files with one sentence per line, line i of one the translation of line i of the
  other (Multi30k style).
* :func:`split_pairs`: a held-out fraction (the *last* part of the file, so that the split needs no seed).
* :func:`filter_pairs`: length filters on the tokenised sides.

Errors are one line and name the file and line: a line with one column, an empty line, a file that is not UTF-8.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from unrolled.data.readers import read_utf8_file

__all__ = ["filter_pairs", "read_aligned", "read_pairs_tsv", "split_pairs"]

Pair = tuple[str, str]


def _lines(path: str | os.PathLike[str]) -> list[str]:
    text = read_utf8_file(path)  # one-line errors for missing and non-UTF-8 files
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        raise ValueError(f"{path} is empty; expected sentence pairs, one per line")
    return lines


def read_pairs_tsv(path: str | os.PathLike[str]) -> list[Pair]:
    """Read ``source<TAB>target`` lines (extra columns ignored).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8, empty, an empty line, a line with one column, or an empty side (each naming the
            line).

    Example::

        >>> read_pairs_tsv("eng-fra.txt")[0]  # doctest: +SKIP
        ('Go.', 'Va !')
    """
    pairs = []
    for n, line in enumerate(_lines(path), start=1):
        if not line.strip():
            raise ValueError(f"{path}:{n}: empty line; expected source<TAB>target")
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(f"{path}:{n}: one column; expected source<TAB>target (tab-separated), got {line[:60]!r}")
        src, tgt = cols[0].strip(), cols[1].strip()
        if not src or not tgt:
            side = "source" if not src else "target"
            raise ValueError(f"{path}:{n}: empty {side}; expected source<TAB>target")
        pairs.append((src, tgt))
    return pairs


def read_aligned(src_path: str | os.PathLike[str], tgt_path: str | os.PathLike[str]) -> list[Pair]:
    """Read two aligned files, one sentence per line; they must have as many lines and no empty line."""
    src, tgt = _lines(src_path), _lines(tgt_path)
    if len(src) != len(tgt):
        raise ValueError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; expected aligned files")
    for path, lines in ((src_path, src), (tgt_path, tgt)):
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                raise ValueError(f"{path}:{n}: empty line; expected one sentence per line")
    return [(s.strip(), t.strip()) for s, t in zip(src, tgt)]


def split_pairs(pairs: Sequence[Pair], fraction: float) -> tuple[list[Pair], list[Pair]]:
    """``(first, last)``: the last ``round(fraction * n)`` pairs held out (at least one when fraction > 0)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise ValueError(f"held-out fraction must be in [0, 1), got {fraction!r}")
    n = len(pairs)
    k = max(1, round(fraction * n)) if fraction > 0 else 0
    if k >= n:
        raise ValueError(f"held-out fraction {fraction} of {n} pairs leaves nothing to train on")
    return list(pairs[: n - k]), list(pairs[n - k :])


def filter_pairs(
    pairs: Sequence[Pair],
    tokenize: Callable[[str], list[str]],
    max_src_len: int | None = None,
    max_tgt_len: int | None = None,
    min_len: int = 1,
) -> list[Pair]:
    """Keep pairs whose tokenised source and target have ``min_len`` to ``max_*_len`` tokens."""
    for name, v in (("max_src_len", max_src_len), ("max_tgt_len", max_tgt_len)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
    kept = []
    for s, t in pairs:
        ls, lt = len(tokenize(s)), len(tokenize(t))
        if ls < min_len or lt < min_len:
            continue
        if (max_src_len is not None and ls > max_src_len) or (max_tgt_len is not None and lt > max_tgt_len):
            continue
        kept.append((s, t))
    return kept
