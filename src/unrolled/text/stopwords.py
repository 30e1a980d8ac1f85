"""Stop-word filtering with a built-in English list or a user list."""

from __future__ import annotations

import os
from collections.abc import Iterable

from unrolled.data.readers import read_utf8_file

__all__ = ["ENGLISH_STOP_WORDS", "StopWords"]

# The 179-word English list of NLTK's stopwords corpus (Bird, Klein & Loper, 2009, "Natural Language
# Processing with Python"), lower case. It holds clitic fragments ("don", "t", "ll") because tokenizers that
# split "don't" into "don" + "'" + "t" are common; unrolled's word tokenizer keeps "don't" whole, also listed.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves
    he him his himself she she's her hers herself it it's its itself they them their theirs themselves
    what which who whom this that that'll these those am is are was were be been being have has had having
    do does did doing a an the and but if or because as until while of at by for with about against between
    into through during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not only own
    same so than too very s t can will just don don't should should've now d ll m o re ve y ain aren aren't
    couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn
    mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't
    wouldn wouldn't
    """.split()
)


class StopWords:
    """A stop-word set and a filter that removes its words from token lists.

    Args:
        words: the base list. Default: ``None``, the built-in :data:`ENGLISH_STOP_WORDS` (179 words).
        extra: more words added to the base list. Default: ``()``.
        case_sensitive: if ``False`` (default) words and tokens are compared after :meth:`str.casefold`, so
            ``"The"`` is removed by ``"the"``.

    Example::

        >>> StopWords().remove(["The", "cat", "sat", "on", "the", "mat"])
        ['cat', 'sat', 'mat']
        >>> StopWords(words=["cat"], extra=["mat"]).remove(["the", "cat", "mat"])
        ['the']
    """

    def __init__(
        self, words: Iterable[str] | None = None, extra: Iterable[str] = (), case_sensitive: bool = False
    ) -> None:
        if not isinstance(case_sensitive, bool):
            raise TypeError(f"expected case_sensitive to be a bool, got {type(case_sensitive).__name__}")
        self.case_sensitive = case_sensitive
        base = ENGLISH_STOP_WORDS if words is None else _check_words("words", words)
        self._words = frozenset(self._key(w) for w in (*base, *_check_words("extra", extra)))

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], extra: Iterable[str] = (), case_sensitive: bool = False
    ) -> StopWords:
        """Load a list from a UTF-8 file: one word per line; blank lines and lines starting with ``#`` skipped.

        Surrounding whitespace of each line is stripped.

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: the file is not UTF-8, or holds no word.
        """
        lines = (line.strip() for line in read_utf8_file(path).split("\n"))
        words = [line for line in lines if line and not line.startswith("#")]
        if not words:
            raise ValueError(f"{path} holds no stop word; expected one word per line")
        return cls(words, extra=extra, case_sensitive=case_sensitive)

    def _key(self, token: str) -> str:
        return token if self.case_sensitive else token.casefold()

    @property
    def words(self) -> frozenset[str]:
        """The set of stop words (case-folded unless ``case_sensitive``)."""
        return self._words

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self._key(token) in self._words

    def __len__(self) -> int:
        return len(self._words)

    def remove(self, tokens: Iterable[str]) -> list[str]:
        """Return ``tokens`` without the stop words, order and case of the kept tokens unchanged."""
        if isinstance(tokens, str):
            raise TypeError("expected a list of tokens, got a str; tokenize the text first")
        kept = []
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"expected str tokens, got {type(t).__name__}")
            if self._key(t) not in self._words:
                kept.append(t)
        return kept

    def __repr__(self) -> str:
        return f"StopWords({len(self)} words, case_sensitive={self.case_sensitive})"


def _check_words(name: str, words: Iterable[str]) -> list[str]:
    if isinstance(words, str):
        raise TypeError(f"expected {name} to be a list of words, got a str ({words!r}); wrap it in a list")
    out = list(words)
    for w in out:
        if not isinstance(w, str):
            raise TypeError(f"expected {name} to hold str words, got {type(w).__name__}")
    return out
