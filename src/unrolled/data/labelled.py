"""Labelled text for classification: CSV/TSV files, a folder per class, and a stratified held-out split.

Two layouts are read:

* a delimited file (CSV or TSV) with a text column and a label column, chosen by header name or by 0-based index
  (the delimiter follows the extension: ``.tsv``/``.tab`` tab, ``.csv`` comma, otherwise a tab if the first line
  has one, else a comma);
* a folder per class: either one file per class (``names/Arabic.txt``: the class is the file's stem, each non-empty
  line one example) or one sub-folder per class holding one file per example (``train/pos/1.txt``).

Multi-label examples carry several labels in their label column, split on ``label_separator``.
Every problem is a one-line :class:`LabelledDataError` that names the file (and line): a missing column, an empty
file, bytes that are not UTF-8, an empty text or label.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from unrolled.errors import UnrolledError

__all__ = [
    "LabelledData",
    "LabelledDataError",
    "read_class_folder",
    "read_labelled",
    "read_labelled_table",
    "stratified_split",
]

_DELIMITERS = {".tsv": "\t", ".tab": "\t", ".csv": ","}


class LabelledDataError(UnrolledError, ValueError):
    """A labelled data file or folder that cannot be read as asked (one line, naming the file and line)."""


@dataclass
class LabelledData:
    """Texts with their labels.

    Attributes:
        texts: one string per example.
        labels: one tuple of label names per example (one name for single-label data).
        sources: where each example came from (``file:line``), for error messages.
    """

    texts: list[str]
    labels: list[tuple[str, ...]]
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"expected one label tuple per text, got {len(self.texts)} texts, {len(self.labels)}")
        if not self.sources:
            self.sources = [f"example {i + 1}" for i in range(len(self.texts))]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def classes(self) -> list[str]:
        """The label names seen, sorted."""
        return sorted({label for labels in self.labels for label in labels})

    @property
    def multi_label(self) -> bool:
        """Whether any example carries more or fewer than one label."""
        return any(len(labels) != 1 for labels in self.labels)

    def subset(self, indices: Sequence[int]) -> LabelledData:
        """The examples at ``indices``, in that order."""
        return LabelledData(
            [self.texts[i] for i in indices], [self.labels[i] for i in indices], [self.sources[i] for i in indices]
        )


def _decode(path: Path) -> str:
    if not path.exists():
        raise LabelledDataError(f"{path}: no such file or folder; expected labelled text")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise LabelledDataError(
            f"{path}:{line}: not valid UTF-8 (byte offset {err.start}, {err.reason}); expected UTF-8 text"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LabelledDataError(f"{path} is empty; expected labelled examples")
    return text


def _split_labels(value: str, separator: str | None) -> tuple[str, ...]:
    if separator is None:
        return (value.strip(),)
    return tuple(dict.fromkeys(p.strip() for p in value.split(separator) if p.strip()))


def _column(spec: str | int, header: list[str] | None, path: Path, what: str) -> int:
    if isinstance(spec, bool) or not isinstance(spec, (str, int)):
        raise LabelledDataError(f"{what} must be a column name or a 0-based index, got {spec!r}")
    if isinstance(spec, int):
        if spec < 0:
            raise LabelledDataError(f"{what} must be a 0-based column index >= 0, got {spec}")
        return spec
    if header is None:
        raise LabelledDataError(
            f"{path}: {what} {spec!r} is a name but the file is read without a header; "
            "give a 0-based index or header=True"
        )
    if spec not in header:
        raise LabelledDataError(f"{path}: no column {spec!r} for the {what}; the header has {header}")
    return header.index(spec)


def read_labelled_table(
    path: str | os.PathLike[str],
    text_column: str | int = "text",
    label_column: str | int = "label",
    header: bool | None = None,
    delimiter: str | None = None,
    label_separator: str | None = None,
) -> LabelledData:
    """Read a CSV/TSV file of text and label columns.

    Args:
        path: the file.
        text_column, label_column: header names, or 0-based indices.
        header: whether the first row names the columns (default: True when either column is given by name).
        delimiter: one character (default: from the extension, see the module docstring).
        label_separator: split the label column into several labels (multi-label data), e.g. ``","``.

    Raises:
        LabelledDataError: missing file or column, non-UTF-8 bytes (file and line), an empty file, an empty text
            or label (file and line).

    Example::

        >>> data = read_labelled_table("reviews.csv", text_column="review", label_column="sentiment")  # doctest: +SKIP
    """
    p = Path(path)
    if p.is_dir():
        raise LabelledDataError(f"{p} is a folder; expected a CSV/TSV file (or use read_class_folder)")
    text = _decode(p)
    if delimiter is None:
        delimiter = _DELIMITERS.get(p.suffix.lower()) or ("\t" if "\t" in text.split("\n", 1)[0] else ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise LabelledDataError(f"delimiter must be one character, got {delimiter!r}")
    if header is None:
        header = isinstance(text_column, str) or isinstance(label_column, str)
    rows = list(enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1))
    names = None
    if header:
        names = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
    ti = _column(text_column, names, p, "text column")
    li = _column(label_column, names, p, "label column")
    texts, labels, sources = [], [], []
    for line, row in rows:
        if not row or all(not c.strip() for c in row):
            continue
        if max(ti, li) >= len(row):
            raise LabelledDataError(
                f"{p}:{line}: has {len(row)} columns, expected at least {max(ti, li) + 1} (text column {ti}, "
                f"label column {li})"
            )
        t, lab = row[ti].strip(), _split_labels(row[li], label_separator)
        if not t:
            raise LabelledDataError(f"{p}:{line}: empty text; expected a non-empty text in column {ti}")
        if not lab or not all(lab):
            raise LabelledDataError(f"{p}:{line}: empty label; expected a label in column {li}")
        texts.append(t)
        labels.append(lab)
        sources.append(f"{p}:{line}")
    if not texts:
        raise LabelledDataError(f"{p} is empty; expected labelled examples after the header")
    return LabelledData(texts, labels, sources)


def _visible(folder: Path) -> list[Path]:
    return sorted((c for c in folder.iterdir() if not c.name.startswith(".")), key=lambda c: c.name)


def read_class_folder(path: str | os.PathLike[str]) -> LabelledData:
    """Read a folder per class: one file per class (each non-empty line an example, the class the file's stem),
    or one sub-folder per class (each file an example, the class the sub-folder's name).

    Raises:
        LabelledDataError: a missing or empty folder, an empty or non-UTF-8 file (file and line), a folder mixing
            files and sub-folders.

    Example::

        >>> data = read_class_folder("names/")  # names/Arabic.txt, names/Chinese.txt, ...  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_dir():
        raise LabelledDataError(f"{p}: no such folder; expected a folder with one file or sub-folder per class")
    children = _visible(p)
    files, folders = [c for c in children if c.is_file()], [c for c in children if c.is_dir()]
    if not children:
        raise LabelledDataError(f"{p} is empty; expected one file or sub-folder per class")
    if files and folders:
        raise LabelledDataError(
            f"{p} mixes files and sub-folders; expected one file per class or one sub-folder per class"
        )
    texts, labels, sources = [], [], []
    if files:
        for f in files:
            for line, t in enumerate(_decode(f).split("\n"), start=1):
                if t.strip():
                    texts.append(t.strip())
                    labels.append((f.stem,))
                    sources.append(f"{f}:{line}")
    else:
        for d in folders:
            examples = [f for f in _visible(d) if f.is_file()]
            if not examples:
                raise LabelledDataError(f"{d} is empty; expected one file per example of class {d.name!r}")
            for f in examples:
                texts.append(_decode(f).strip())
                labels.append((d.name,))
                sources.append(str(f))
    return LabelledData(texts, labels, sources)


def read_labelled(path: str | os.PathLike[str], **options: object) -> LabelledData:
    """A folder per class (:func:`read_class_folder`) or a CSV/TSV file (:func:`read_labelled_table`, with
    ``options``)."""
    p = Path(path)
    if p.is_dir():  # column options do not apply to a folder; accepted so one call serves both layouts
        return read_class_folder(p)
    return read_labelled_table(p, **options)  # type: ignore[arg-type]


def stratified_split(data: LabelledData, fraction: float = 0.1, seed: int = 0) -> tuple[LabelledData, LabelledData]:
    r"""Hold out ``fraction`` of every class (by the example's label tuple), at random with a fixed seed.

    A class of :math:`n` examples gives :math:`\mathrm{round}(fraction \cdot n)` held-out examples, at least one
    when :math:`n \ge 2` and none when :math:`n = 1` (so training sees every class). Both parts keep the original
    order of the examples.

    Returns:
        ``(train, held_out)``.

    Example::

        >>> train, valid = stratified_split(read_class_folder("names/"), 0.1, seed=0)  # doctest: +SKIP
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
    by_class: dict[tuple[str, ...], list[int]] = {}
    for i, lab in enumerate(data.labels):
        by_class.setdefault(lab, []).append(i)
    g = torch.Generator().manual_seed(seed)
    held: list[int] = []
    for key in sorted(by_class):
        idx = by_class[key]
        n = len(idx)
        k = 0 if n < 2 else min(n - 1, max(1, round(fraction * n)))
        order = torch.randperm(n, generator=g).tolist()
        held.extend(idx[j] for j in order[:k])
    held_set = set(held)
    train = [i for i in range(len(data)) if i not in held_set]
    return data.subset(train), data.subset(sorted(held_set))
