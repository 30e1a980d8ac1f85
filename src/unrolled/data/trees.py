"""Bracketed trees in the Penn / Stanford Sentiment Treebank format, a label at every node.

One tree per non-empty line, e.g. ``(3 (2 It) (4 (2 's) (3 good)))``: a node is ``(LABEL WORD)`` (a leaf) or
``(LABEL CHILD CHILD ...)``. Words holding brackets are written ``-LRB-`` / ``-RRB-`` as in the treebanks.
:func:`to_bracketed` writes the canonical form (single spaces), so a canonical file round-trips exactly.

Every malformed input is a one-line :class:`TreeFormatError` (also a ``ValueError``) that names the file and line:
unbalanced brackets, a node without a label, a node without word or children, a node mixing a word with
subtrees, text outside the brackets, an empty file, bytes that are not UTF-8.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from unrolled.errors import UnrolledError

__all__ = ["Tree", "TreeFormatError", "parse_tree", "parse_trees", "read_trees", "to_bracketed", "write_trees"]

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


class TreeFormatError(UnrolledError, ValueError):
    """A malformed bracketed tree (one line, naming the file and line)."""


@dataclass(frozen=True)
class Tree:
    """A node: a ``label`` and either a ``word`` (a leaf) or ``children`` (an internal node)."""

    label: str
    children: tuple[Tree, ...] = field(default=())
    word: str | None = None

    @property
    def is_leaf(self) -> bool:
        return self.word is not None

    def nodes(self) -> Iterator[Tree]:
        """Every node in post-order (children before their parent, left to right); the root comes last."""
        stack: list[tuple[Tree, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded or node.is_leaf:
                yield node
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.children))

    def leaves(self) -> list[str]:
        """The words, left to right."""
        return [n.word for n in self.nodes() if n.word is not None]

    def labels(self) -> list[str]:
        """Every node's label in post-order (the root's last)."""
        return [n.label for n in self.nodes()]

    def __str__(self) -> str:
        return to_bracketed(self)


def to_bracketed(tree: Tree) -> str:
    """The canonical one-line bracketed form, e.g. ``(3 (2 It) (4 (2 's) (3 good)))``."""
    parts: list[str] = []
    stack: list[Tree | str] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif item.is_leaf:
            parts.append(f"({item.label} {item.word})")
        else:
            parts.append(f"({item.label}")
            stack.append(")")
            for child in reversed(item.children):
                stack.append(child)
                stack.append(" ")
    return "".join(parts)


def parse_tree(text: str, where: str = "<string>") -> Tree:
    """One tree from its bracketed text; ``where`` (e.g. ``"train.txt line 3"``) prefixes every error."""
    stack: list[list] = []  # open nodes: [label | None, children, words]
    root: Tree | None = None
    for m in _TOKEN.finditer(text):
        tok = m.group()
        col = m.start() + 1
        if root is not None:
            raise TreeFormatError(f"{where}: text after the tree closed at column {col} ({tok!r}); expected one tree")
        if tok == "(":
            if stack and stack[-1][0] is None:
                raise TreeFormatError(f"{where}: missing label before '(' at column {col}; expected (LABEL ...)")
            if stack and stack[-1][2]:
                raise TreeFormatError(f"{where}: subtree after a word at column {col}; expected a word or subtrees")
            stack.append([None, [], []])
        elif tok == ")":
            if not stack:
                raise TreeFormatError(f"{where}: unbalanced brackets: ')' at column {col} closes nothing")
            label, children, words = stack.pop()
            if label is None:
                raise TreeFormatError(f"{where}: missing label in '()' at column {col}; expected (LABEL ...)")
            if not children and not words:
                raise TreeFormatError(f"{where}: node ({label}) at column {col} has neither a word nor subtrees")
            if len(words) > 1:
                raise TreeFormatError(
                    f"{where}: node ({label} {' '.join(words)}) has {len(words)} words; expected one word per leaf"
                )
            node = Tree(label, word=words[0]) if words else Tree(label, tuple(children))
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
        else:
            if not stack:
                raise TreeFormatError(f"{where}: {tok!r} at column {col} is outside brackets; expected (LABEL ...)")
            top = stack[-1]
            if top[0] is None:
                top[0] = tok
            elif top[1]:
                raise TreeFormatError(f"{where}: word {tok!r} after a subtree at column {col}; expected subtrees")
            else:
                top[2].append(tok)
    if stack:
        raise TreeFormatError(f"{where}: unbalanced brackets: {len(stack)} '(' not closed; expected one tree per line")
    if root is None:
        raise TreeFormatError(f"{where}: no tree; expected (LABEL ...)")
    return root


def parse_trees(text: str, source: str = "<string>") -> list[Tree]:
    """Every tree of ``text``, one per non-empty line; errors name ``source`` and the line."""
    trees = [parse_tree(line, f"{source} line {i}") for i, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if not trees:
        raise TreeFormatError(f"{source} is empty; expected bracketed trees, one per line")
    return trees


def read_trees(path: str | os.PathLike[str]) -> list[Tree]:
    """Read a treebank file (strict UTF-8, one tree per line).

    Example::

        >>> trees = read_trees("train.txt")  # doctest: +SKIP
        >>> trees[0].label, trees[0].leaves()[:2]  # doctest: +SKIP
        ('3', ['It', "'s"])
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file; expected a treebank file")
    if p.is_dir():
        raise TreeFormatError(f"{p} is a folder; expected a treebank file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise TreeFormatError(f"{p} line {line}: not valid UTF-8 ({err.reason}); expected UTF-8 text") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return parse_trees(text, str(p))


def write_trees(path: str | os.PathLike[str], trees: list[Tree]) -> None:
    """Write ``trees`` one per line in the canonical bracketed form (UTF-8)."""
    Path(path).write_text("".join(to_bracketed(t) + "\n" for t in trees), encoding="utf-8")
