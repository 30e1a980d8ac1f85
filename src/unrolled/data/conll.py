"""CoNLL column files and CoNLL-U treebanks: tagged sentences in, the same text with a predicted column out.

CoNLL column format (CoNLL-2000 chunking, CoNLL-2002/2003 NER): one token per line, whitespace-separated
columns (the token first, tags after), a blank line between sentences, ``-DOCSTART-`` lines between documents::

    -DOCSTART- -X- -X- O

    EU NNP B-NP B-ORG
    rejects VBZ B-VP O

CoNLL-U (Universal Dependencies): ten tab-separated columns ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS
MISC``, ``#`` comment lines before each sentence; multiword-token ranges (ID ``1-2``) and empty nodes (ID
``1.1``) are not tokens of the tagging (the syntactic words are) and are skipped, but kept for writing back.

Every sentence keeps its raw lines, so :func:`write_conll` reproduces the input exactly, with the predicted tag
appended as a last column on every token line.

Example::

    >>> sents = parse_conll("EU NNP B-ORG\\nrejects VBZ O\\n\\nPeter NNP B-PER\\n", columns=(0, 2))
    >>> sents[0].tokens, sents[0].tags, sents[1].line
    (('EU', 'rejects'), ('B-ORG', 'O'), 4)
    >>> print(format_conll(sents, [["B-ORG", "O"], ["B-PER"]]), end="")
    EU NNP B-ORG B-ORG
    rejects VBZ O O
    <BLANKLINE>
    Peter NNP B-PER B-PER
    <BLANKLINE>
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from unrolled.data.readers import read_utf8_file
from unrolled.errors import UnrolledError

__all__ = [
    "FORMATS",
    "ConllFormatError",
    "TaggedSentence",
    "format_conll",
    "parse_conll",
    "parse_conllu",
    "read_conll",
    "read_conllu",
    "read_tagged",
    "write_conll",
]

DOCSTART = "-DOCSTART-"
CONLLU_COLUMNS = {"upos": 3, "xpos": 4}


class ConllFormatError(UnrolledError, ValueError):
    """A CoNLL / CoNLL-U file that does not have the expected layout (one line: file, line, what was expected)."""


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its tokens, their tags (``None`` when no tag column was read) and its raw lines.

    Attributes:
        tokens: the tokens.
        tags: one tag per token, or ``None``.
        lines: the raw lines of the sentence (comments, skipped CoNLL-U lines and token lines), without the
            blank line that ends it; lines before it that belong to no sentence (``-DOCSTART-``, blank lines)
            are in ``before``.
        token_lines: for every token, the index of its line in ``lines``.
        line: 1-based line number of the sentence's first token in the file.
        before: raw lines between the previous sentence and this one.
    """

    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None
    lines: tuple[str, ...]
    token_lines: tuple[int, ...]
    line: int
    before: tuple[str, ...] = ()


def _blocks(text: str):
    """Yield ``(start_line, lines)`` for every run of non-blank lines (1-based line numbers)."""
    block: list[str] = []
    start = 0
    for i, raw in enumerate(text.split("\n"), 1):
        if raw.strip():
            if not block:
                start = i
            block.append(raw.rstrip("\n"))
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _column(cols: list[str], index: int, what: str, where: str) -> str:
    try:
        return cols[index]
    except IndexError:
        raise ConllFormatError(
            f"{where}: expected a {what} column {index}, got {len(cols)} column(s): {' '.join(cols)!r}"
        ) from None


def parse_conll(
    text: str,
    columns: tuple[int, int | None] = (0, -1),
    *,
    name: str = "<text>",
    comment: str | None = None,
) -> list[TaggedSentence]:
    """Sentences of CoNLL column text.

    Args:
        text: the file's contents.
        columns: ``(token column, tag column)``, 0-based, negative from the end; tag column ``None`` reads no tags
            (e.g. text to tag). Default: ``(0, -1)`` (first and last).
        name: the file name used in error messages.
        comment: lines starting with this prefix are comments (kept for writing back); ``None``: no comments
            (CoNLL-2003 has none, and a token may be ``#``).

    Raises:
        ConllFormatError: no sentences at all, a line lacking the token or tag column, a comment-only sentence.
    """
    token_col, tag_col = _check_columns(columns)
    out: list[TaggedSentence] = []
    pending: list[str] = []  # lines that belong to no sentence yet
    for start, block in _blocks(text):
        while block and block[0].split()[0] == DOCSTART:  # document separators belong to no sentence
            pending.append(block.pop(0))
            start += 1
        if not block:
            pending.append("")
            continue
        tokens, tags, token_lines = [], [], []
        for k, raw in enumerate(block):
            if comment is not None and raw.startswith(comment):
                continue
            where = f"{name}:{start + k}"
            cols = raw.split()
            if cols[0] == DOCSTART:
                raise ConllFormatError(
                    f"{where}: expected {DOCSTART} on a line of its own block, got it inside a sentence"
                )
            tokens.append(_column(cols, token_col, "token", where))
            if tag_col is not None:
                tags.append(_column(cols, tag_col, "tag", where))
            token_lines.append(k)
        if not tokens:
            raise ConllFormatError(f"{name}:{start}: empty sentence (only comments); expected token lines")
        out.append(
            TaggedSentence(
                tuple(tokens),
                tuple(tags) if tag_col is not None else None,
                tuple(block),
                tuple(token_lines),
                start + token_lines[0],
                tuple(pending),
            )
        )
        pending = []
    if not out:
        raise ConllFormatError(f"{name}: no sentences; expected CoNLL columns, one token per line")
    return out


def parse_conllu(text: str, tagset: str = "upos", *, name: str = "<text>", tags: bool = True) -> list[TaggedSentence]:
    """Sentences of CoNLL-U text, tagged with UPOS (``tagset="upos"``) or XPOS (``"xpos"``); ``tags=False``
    reads the words only (e.g. to tag them).

    Raises:
        ConllFormatError: no sentences, a token line without ten tab-separated columns, a bad ID, a sentence
            with comments only, an unknown ``tagset``.
    """
    if tagset not in CONLLU_COLUMNS:
        raise ValueError(f"expected tagset in {sorted(CONLLU_COLUMNS)}, got {tagset!r}")
    tag_col = CONLLU_COLUMNS[tagset]
    out: list[TaggedSentence] = []
    for start, block in _blocks(text):
        words, labels, token_lines = [], [], []
        for k, raw in enumerate(block):
            if raw.startswith("#"):
                continue
            where = f"{name}:{start + k}"
            cols = raw.split("\t")
            if len(cols) != 10:
                raise ConllFormatError(f"{where}: expected 10 tab-separated CoNLL-U columns, got {len(cols)}")
            ident = cols[0]
            if "-" in ident or "." in ident:  # multiword token range or empty node: not a word of the tagging
                continue
            if not ident.isdigit():
                raise ConllFormatError(f"{where}: expected a word ID (1, 2, ...; or 1-2, 1.1), got {ident!r}")
            words.append(cols[1])
            labels.append(cols[tag_col])
            token_lines.append(k)
        if not words:
            raise ConllFormatError(f"{name}:{start}: empty sentence (no word lines); expected CoNLL-U word lines")
        out.append(
            TaggedSentence(
                tuple(words), tuple(labels) if tags else None, tuple(block), tuple(token_lines), start + token_lines[0]
            )
        )
    if not out:
        raise ConllFormatError(f"{name}: no sentences; expected CoNLL-U (10 tab-separated columns per word)")
    return out


def read_conll(
    path: str | os.PathLike[str], columns: tuple[int, int | None] = (0, -1), *, comment: str | None = None
) -> list[TaggedSentence]:
    """:func:`parse_conll` of a UTF-8 file (one-line errors for a missing file, a folder, bytes that are not UTF-8)."""
    return parse_conll(read_utf8_file(path), columns, name=str(path), comment=comment)


def read_conllu(path: str | os.PathLike[str], tagset: str = "upos", *, tags: bool = True) -> list[TaggedSentence]:
    """:func:`parse_conllu` of a UTF-8 file."""
    return parse_conllu(read_utf8_file(path), tagset, name=str(path), tags=tags)


FORMATS = ("conll", "conllu")


def read_tagged(
    path: str | os.PathLike[str],
    fmt: str = "conll",
    *,
    columns: tuple[int, int | None] = (0, -1),
    tagset: str = "upos",
    tags: bool = True,
) -> list[TaggedSentence]:
    """Read ``path`` as ``fmt`` (``conll`` with ``columns``, or ``conllu`` with ``tagset``); ``tags=False``
    reads tokens only."""
    if fmt not in FORMATS:
        raise ValueError(f"expected a format in {FORMATS}, got {fmt!r}")
    if fmt == "conll":
        return read_conll(path, columns if tags else (columns[0], None))
    return read_conllu(path, tagset, tags=tags)


def format_conll(sentences: Sequence[TaggedSentence], predictions: Sequence[Sequence[str]]) -> str:
    """The sentences' raw text with ``predictions[k][i]`` appended to token line ``i`` of sentence ``k`` (tab
    separated if the line uses tabs, else a space), sentences separated by blank lines."""
    if len(sentences) != len(predictions):
        raise ValueError(f"expected one prediction list per sentence ({len(sentences)}), got {len(predictions)}")
    parts: list[str] = []
    for k, (sent, pred) in enumerate(zip(sentences, predictions, strict=True)):
        if len(pred) != len(sent.tokens):
            raise ValueError(f"sentence {k + 1}: expected {len(sent.tokens)} predicted tags, got {len(pred)}")
        lines = list(sent.lines)
        for i, tag in zip(sent.token_lines, pred, strict=True):
            sep = "\t" if "\t" in lines[i] else " "
            lines[i] = f"{lines[i]}{sep}{tag}"
        parts.extend(sent.before)
        parts.extend(lines)
        parts.append("")
    return "\n".join(parts) + "\n"


def write_conll(
    path: str | os.PathLike[str], sentences: Sequence[TaggedSentence], predictions: Sequence[Sequence[str]]
) -> None:
    """Write :func:`format_conll` to ``path`` (UTF-8)."""
    text = format_conll(sentences, predictions)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _check_columns(columns: object) -> tuple[int, int | None]:
    ok = isinstance(columns, (tuple, list)) and len(columns) == 2
    ok = ok and all(isinstance(c, int) and not isinstance(c, bool) for c in columns[:1])
    ok = ok and (columns[1] is None or (isinstance(columns[1], int) and not isinstance(columns[1], bool)))
    if not ok:
        raise ValueError(f"expected columns as (token column, tag column) integers, got {columns!r}")
    return columns[0], columns[1]
