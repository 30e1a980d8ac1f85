"""Strict UTF-8 readers for raw text corpora.

Every reader decodes bytes itself (never the locale's encoding) so that a corpus reads identically on every
machine, and turns every failure into a one-line error that names the file:

* a path that does not exist -> :class:`FileNotFoundError`;
* bytes that are not UTF-8 -> :class:`ValueError` with the byte offset of the first bad byte;
* an empty (or whitespace-only) file or folder -> :class:`ValueError` ``"... is empty; expected text"``.

Line endings are normalised as Python's text mode does (``"\\r\\n"`` and ``"\\r"`` become ``"\\n"``) and a
leading UTF-8 byte-order mark is dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["read_documents", "read_lines", "read_text", "read_utf8_file"]

_BOM = "\ufeff"


def _as_path(path: str | os.PathLike[str]) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected a path (str or os.PathLike), got {type(path).__name__}")
    return Path(path)


def read_utf8_file(path: str | os.PathLike[str]) -> str:
    """Read one file as strict UTF-8 and normalise its line endings.

    Unlike :func:`read_text` an empty file is allowed (it returns ``""``).

    Args:
        path: a regular file.

    Returns:
        The decoded text, with ``"\\r\\n"``/``"\\r"`` replaced by ``"\\n"`` and a leading BOM removed.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is a folder, or its bytes are not valid UTF-8 (the message gives the byte
            offset).

    Example::

        >>> text = read_utf8_file("vocab.json")  # doctest: +SKIP
    """
    p = _as_path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file; expected a UTF-8 text file")
    if p.is_dir():
        raise ValueError(f"{p} is a folder; expected a UTF-8 text file")
    if not p.is_file():  # a device, a pipe or a socket: it may never end (/dev/zero)
        raise ValueError(f"{p} is not a regular file (a device, pipe or socket); expected a UTF-8 text file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{p}: not valid UTF-8 at byte offset {err.start} ({err.reason}); expected UTF-8 text"
        ) from None
    if text.startswith(_BOM):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a corpus from a UTF-8 file or from a folder of ``.txt`` files.

    A folder is read non-recursively: its ``*.txt`` children are sorted by file name (code-point order) and
    their texts joined with a single ``"\\n"``. Other files in the folder are ignored.

    Args:
        path: a file, or a folder holding ``.txt`` files.

    Returns:
        The text, line endings normalised to ``"\\n"``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a file is not UTF-8 (names the file and byte offset), the folder holds no ``.txt``
            file, or the result is empty / whitespace only.

    Example::

        >>> text = read_text("data/shakespeare.txt")  # doctest: +SKIP
        >>> text = read_text("data/books/")  # a.txt + "\\n" + b.txt  # doctest: +SKIP
    """
    p = _as_path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder; expected a UTF-8 text file or a folder of .txt files")
    if p.is_dir():
        files = sorted((f for f in p.iterdir() if f.is_file() and f.suffix == ".txt"), key=lambda f: f.name)
        if not files:
            raise ValueError(f"{p} is empty; expected text (a folder holding at least one .txt file)")
        text = "\n".join(read_utf8_file(f) for f in files)
    else:
        text = read_utf8_file(p)
    if not text.strip():
        raise ValueError(f"{p} is empty; expected text")
    return text


def read_documents(path: str | os.PathLike[str]) -> list[str]:
    """The documents of a corpus: ``[text]`` for a file, one text per ``.txt`` file (sorted by name) for a folder.

    ``"\\n".join(read_documents(path)) == read_text(path)``.

    Raises:
        The errors of :func:`read_text`.

    Example::

        >>> docs = read_documents("data/books/")  # [a.txt, b.txt]  # doctest: +SKIP
    """
    p = _as_path(path)
    text = read_text(p)  # every check, and the joined text's errors name the right file
    if not p.is_dir():
        return [text]
    files = sorted((f for f in p.iterdir() if f.is_file() and f.suffix == ".txt"), key=lambda f: f.name)
    return [read_utf8_file(f) for f in files]


def read_lines(path: str | os.PathLike[str], *, skip_empty: bool = True) -> list[str]:
    """Read sentence-per-line data (one example per line).

    Args:
        path: a file or a folder of ``.txt`` files, read as in :func:`read_text`.
        skip_empty: drop lines that are empty or whitespace only. Default: ``True``.

    Returns:
        The lines, without their ``"\\n"``; other whitespace is kept as is.

    Raises:
        The errors of :func:`read_text`.

    Example::

        >>> sentences = read_lines("data/ptb.train.txt")  # doctest: +SKIP
    """
    if not isinstance(skip_empty, bool):
        raise TypeError(f"expected skip_empty to be a bool, got {type(skip_empty).__name__}")
    lines = read_text(path).split("\n")
    if skip_empty:
        return [line for line in lines if line.strip()]
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    return lines
