"""Character, word and whitespace tokenizers, resolved by name through the :data:`TOKENIZERS` registry."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["TOKENIZERS", "CharTokenizer", "Tokenizer", "WhitespaceTokenizer", "WordTokenizer", "get_tokenizer"]


@runtime_checkable
class Tokenizer(Protocol):
    """What every tokenizer provides: ``tokenize(text) -> tokens`` and ``detokenize(tokens) -> text``."""

    def tokenize(self, text: str) -> list[str]: ...

    def detokenize(self, tokens: Sequence[str]) -> str: ...


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected text to be a str, got {type(text).__name__}")
    return text


def _check_tokens(tokens: object) -> Sequence[str]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise TypeError(f"expected a list of str tokens, got {type(tokens).__name__}")
    for t in tokens:
        if not isinstance(t, str):
            raise TypeError(f"expected str tokens, got {type(t).__name__}")
    return tokens


@dataclass(frozen=True)
class CharTokenizer:
    """One token per Unicode code point, every character kept (spaces, newlines, punctuation).

    ``detokenize(tokenize(text)) == text`` for every string.

    Example::

        >>> CharTokenizer().tokenize("hi\\n!")
        ['h', 'i', '\\n', '!']
    """

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into its characters."""
        return list(_check_text(text))

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Concatenate ``tokens``."""
        return "".join(_check_tokens(tokens))


# A number with decimal/thousands separators ("3.14", "1,000"); a word, where inner apostrophes and hyphens
# join letters/digits ("don't", "state-of-the-art", "rock’n’roll"); a line break; any other non-space
# character on its own ("," "!" "$"). Alternatives are tried in this order at each position.
_NUMBER = r"\d+(?:[.,]\d+)+"
_WORD = r"\w+(?:['\u2019\-\u2010]\w+)*"
_NEWLINE = r"\r\n|\r|\n"
_OTHER = r"[^\w\s]"
_WORD_RE = re.compile(f"{_NUMBER}|{_WORD}|{_OTHER}")
_WORD_NL_RE = re.compile(f"{_NUMBER}|{_WORD}|{_NEWLINE}|{_OTHER}")

# Detokenisation: no space before closing marks, none after opening marks, none around newlines.
_CLOSING = frozenset(".,!?;:%)]}\u2026")
_CLOSING_CATEGORIES = frozenset({"Pe", "Pf"})  # close bracket, final quote
_OPENING_CATEGORIES = frozenset({"Ps", "Pi"})  # open bracket, initial quote


def _glues_left(token: str) -> bool:
    return (
        token == "\n" or token in _CLOSING or (len(token) == 1 and unicodedata.category(token) in _CLOSING_CATEGORIES)
    )


def _glues_right(token: str) -> bool:
    return token == "\n" or (len(token) == 1 and unicodedata.category(token) in _OPENING_CATEGORIES)


@dataclass(frozen=True)
class WordTokenizer:
    """Words, numbers and single punctuation marks, found with one regular expression.

    A token is, tried in this order: a number with inner ``.``/``,`` separators (``"3.14"``, ``"1,000"``);
    a run of letters/digits/underscores where single inner apostrophes (``'`` or ``’``) or hyphens join parts
    (``"don't"``, ``"state-of-the-art"``); with ``keep_newlines`` a line break (``"\\n"``, also for
    ``"\\r\\n"``); any other non-space character on its own. Other whitespace separates tokens and is dropped.
    Letters are Unicode letters (``"naïve"``, ``"Москва"``).

    :meth:`detokenize` joins with single spaces, except no space before closing marks (``. , ! ? ; : % ) ] }
    …`` and closing brackets/quotes) nor after opening brackets/quotes, and none around ``"\\n"``. It is the
    inverse of :meth:`tokenize` at the token level: ``tokenize(detokenize(tokenize(s))) == tokenize(s)``;
    the original spacing is not recorded, so ``detokenize(tokenize(s)) == s`` only for normally spaced text.

    Args:
        keep_newlines: emit ``"\\n"`` tokens, so generated text keeps its line structure. Default: ``False``.

    Example::

        >>> WordTokenizer().tokenize("Hello, world! It's 3.14.")
        ['Hello', ',', 'world', '!', "It's", '3.14', '.']
        >>> WordTokenizer().detokenize(['Hello', ',', 'world', '!'])
        'Hello, world!'
    """

    keep_newlines: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.keep_newlines, bool):
            raise TypeError(f"expected keep_newlines to be a bool, got {type(self.keep_newlines).__name__}")

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into word, number, punctuation (and newline) tokens."""
        pattern = _WORD_NL_RE if self.keep_newlines else _WORD_RE
        tokens = pattern.findall(_check_text(text))
        if self.keep_newlines:
            tokens = ["\n" if t in ("\r\n", "\r") else t for t in tokens]
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join ``tokens`` into readable text (see the class docstring for the spacing rules)."""
        parts: list[str] = []
        glue = True  # no space before the first token
        for token in _check_tokens(tokens):
            if not glue and not _glues_left(token):
                parts.append(" ")
            parts.append(token)
            glue = _glues_right(token)
        return "".join(parts)


_SPACE_RE = re.compile(r"[^\S\r\n]+")
_LINE_RE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class WhitespaceTokenizer:
    """The whitespace-separated strings of a pre-tokenized corpus, exactly as written (Penn Treebank as Mikolov
    et al. 2010 distribute it, WikiText): ``<unk>``, ``n't``, ``'s``, ``$``, ``N``, ``3.14``, ``a-b`` each stay one
    token, nothing is split or joined, so the vocabulary and the token count are the corpus's own.

    Args:
        keep_newlines: emit ``"\\n"`` for each line break (also ``"\\r\\n"``), so a sentence-per-line corpus keeps
            its sentence ends (the language-model task turns them into ``<eos>``). Default: ``False``.

    :meth:`detokenize` joins with single spaces (none around ``"\\n"``), the exact inverse of :meth:`tokenize` on
    text with single spaces: ``tokenize(detokenize(t)) == t`` for tokens without whitespace.

    Example::

        >>> WhitespaceTokenizer().tokenize("the <unk> company does n't pay $ N a share")
        ['the', '<unk>', 'company', 'does', "n't", 'pay', '$', 'N', 'a', 'share']
    """

    keep_newlines: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.keep_newlines, bool):
            raise TypeError(f"expected keep_newlines to be a bool, got {type(self.keep_newlines).__name__}")

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` at whitespace (and, with ``keep_newlines``, emit a ``"\\n"`` per line break)."""
        text = _check_text(text)
        if not self.keep_newlines:
            return text.split()
        out: list[str] = []
        lines = _LINE_RE.split(text)
        for i, line in enumerate(lines):
            if i:
                out.append("\n")
            out.extend(t for t in _SPACE_RE.split(line) if t)
        return out

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join ``tokens`` with single spaces, none around ``"\\n"``."""
        parts: list[str] = []
        glue = True
        for token in _check_tokens(tokens):
            if not glue and token != "\n":
                parts.append(" ")
            parts.append(token)
            glue = token == "\n"
        return "".join(parts)


TOKENIZERS: dict[str, type] = {"char": CharTokenizer, "word": WordTokenizer, "whitespace": WhitespaceTokenizer}


def get_tokenizer(name: str, **options: object) -> Tokenizer:
    """Build the tokenizer registered as ``name`` in :data:`TOKENIZERS`.

    Args:
        name: ``"char"``, ``"word"`` or ``"whitespace"`` (pre-tokenized text).
        **options: fields of that tokenizer (``keep_newlines`` for ``"word"`` and ``"whitespace"``).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names).
        TypeError: an option the tokenizer does not have.

    Example::

        >>> get_tokenizer("word", keep_newlines=True).tokenize("a b\\nc")
        ['a', 'b', '\\n', 'c']
    """
    if not isinstance(name, str):
        raise TypeError(f"expected a tokenizer name (str), got {type(name).__name__}")
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; expected one of: {', '.join(sorted(TOKENIZERS))}")
    cls = TOKENIZERS[name]
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - valid)
    if unknown:
        allowed = ", ".join(sorted(valid)) or "none"
        raise TypeError(f"tokenizer {name!r} has no option(s) {', '.join(unknown)}; valid options: {allowed}")
    return cls(**options)
