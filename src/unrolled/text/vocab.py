"""Token <-> id vocabulary with special tokens, frequency-ordered building and a JSON file format."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from unrolled._fs import open_temp_file
from unrolled.data.readers import read_utf8_file

__all__ = ["BOS", "EOS", "PAD", "SPECIAL_TOKENS", "UNK", "Vocabulary"]

UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<bos>", "<eos>"
SPECIAL_TOKENS = (UNK, PAD, BOS, EOS)

_FORMAT = "unrolled.vocabulary"
_VERSION = 1


class Vocabulary:
    """A bijection between tokens (str) and ids ``0 .. V-1``, specials first.

    The special tokens present take the first ids in the canonical order ``<unk>, <pad>, <bos>, <eos>``; with
    the default (all four) their ids are ``0, 1, 2, 3``. Ordinary tokens follow in the given order.
    ``<unk>`` is what unknown tokens encode to; without it, encoding an unknown token is an error.

    Args:
        tokens: ordinary tokens, unique, non-empty strings, none equal to a present special.
        specials: which of :data:`SPECIAL_TOKENS` are present (any order; ids follow the canonical order).
            Default: all four.

    Example::

        >>> vocab = Vocabulary.build("the cat and the hat".split())
        >>> vocab.encode(["the", "hat", "dog"])
        [4, 7, 0]
        >>> vocab.decode([4, 5])
        ['the', 'cat']
    """

    def __init__(self, tokens: Iterable[str] = (), *, specials: Sequence[str] = SPECIAL_TOKENS) -> None:
        self._specials = _check_specials(specials)
        if isinstance(tokens, str):
            raise TypeError("expected tokens to be a list of str, got a str")
        self._tokens: list[str] = list(self._specials)
        self._index: dict[str, int] = {t: i for i, t in enumerate(self._specials)}
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"expected str tokens, got {type(t).__name__}")
            if not t:
                raise ValueError("expected non-empty tokens, got the empty string")
            if t in self._index:
                kind = "a special token" if t in self._specials else "a duplicate"
                raise ValueError(f"token {t!r} is {kind}; expected unique ordinary tokens")
            self._index[t] = len(self._tokens)
            self._tokens.append(t)

    @classmethod
    def build(
        cls,
        tokens: Iterable[str],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIAL_TOKENS,
    ) -> Vocabulary:
        """Build a vocabulary from a flat stream of tokens.

        Tokens seen at least ``min_freq`` times are kept, most frequent first; ties are broken by first
        appearance in ``tokens`` (so the ids depend only on the corpus, not on hashing). Occurrences of a present
        special (e.g. ``"<unk>"`` in the Penn Treebank files) are not counted: they map to the special. Empty
        strings are skipped.

        Args:
            tokens: a flat iterable of str (for sentence data, chain the sentences first, e.g. with
                :func:`itertools.chain.from_iterable`).
            min_freq: minimum count. Default: ``1``.
            max_size: maximum ``len(vocab)``, specials included; the least frequent tokens are cut.
                Default: ``None`` (no limit).
            specials: as in the constructor.

        Raises:
            TypeError: ``tokens`` is a str or holds non-str items.
            ValueError: ``min_freq < 1`` or ``max_size`` smaller than the number of specials.
        """
        specials = _check_specials(specials)
        if isinstance(tokens, str):
            raise TypeError("expected an iterable of str tokens, got a str; tokenize the text first")
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"expected min_freq to be an int >= 1, got {min_freq!r}")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < len(specials)
        ):
            raise ValueError(
                f"expected max_size to be None or an int >= the number of specials ({len(specials)}), got {max_size!r}"
            )
        try:
            counts = Counter(tokens)  # insertion order = first appearance
        except TypeError as err:
            raise TypeError(f"expected an iterable of str tokens ({err}); flatten sentences first") from None
        for t in counts:
            if not isinstance(t, str):
                raise TypeError(f"expected str tokens, got {type(t).__name__} ({t!r}); flatten sentences first")
        kept = [t for t, c in counts.items() if c >= min_freq and t not in specials and t]
        kept.sort(key=lambda t: -counts[t])  # stable: ties stay in first-appearance order
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls(kept, specials=specials)

    # ----------------------------------------------------------------------------------------------- lookup

    @property
    def specials(self) -> tuple[str, ...]:
        """The special tokens present, in id order."""
        return self._specials

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._specials == other._specials and self._tokens == other._tokens

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, specials={list(self._specials)})"

    def _special_id(self, token: str) -> int:
        if token not in self._specials:
            raise ValueError(f"this vocabulary has no {token} token; its specials are {list(self._specials)}")
        return self._index[token]

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>`` (ValueError if absent)."""
        return self._special_id(UNK)

    @property
    def pad_id(self) -> int:
        """Id of ``<pad>`` (ValueError if absent)."""
        return self._special_id(PAD)

    @property
    def bos_id(self) -> int:
        """Id of ``<bos>`` (ValueError if absent)."""
        return self._special_id(BOS)

    @property
    def eos_id(self) -> int:
        """Id of ``<eos>`` (ValueError if absent)."""
        return self._special_id(EOS)

    def token_to_id(self, token: str) -> int:
        """Id of ``token``; ``<unk>``'s id for an unknown token (ValueError naming it without ``<unk>``)."""
        if not isinstance(token, str):
            raise TypeError(f"expected a str token, got {type(token).__name__}")
        i = self._index.get(token)
        if i is None:
            if UNK not in self._specials:
                raise ValueError(f"unknown token {token!r} and the vocabulary has no {UNK} to map it to")
            return self._index[UNK]
        return i

    def id_to_token(self, index: int) -> str:
        """Token of id ``index`` (``0 <= index < len(self)``)."""
        if isinstance(index, bool) or not isinstance(index, int):
            try:
                index = int(index)  # numpy / 0-d torch integers
            except (TypeError, ValueError):
                raise TypeError(f"expected an int id, got {type(index).__name__}") from None
        if not 0 <= index < len(self._tokens):
            raise ValueError(f"id {index} out of range; expected 0 <= id < {len(self._tokens)}")
        return self._tokens[index]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown tokens give ``<unk>``'s id (ValueError naming the token without it)."""
        if isinstance(tokens, str):
            raise TypeError("expected a list of tokens, got a str; tokenize the text first")
        index = self._index
        if UNK in self._specials:
            unk = index[UNK]
            return [index.get(t, unk) if isinstance(t, str) else self.token_to_id(t) for t in tokens]
        return [self.token_to_id(t) for t in tokens]

    def decode(self, ids: Iterable[int], *, skip_specials: bool = False) -> list[str]:
        """Tokens of ``ids`` (ints, or a 1-D integer tensor); with ``skip_specials`` drop the special tokens."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        tokens = [self.id_to_token(i) for i in ids]
        if skip_specials:
            return [t for t in tokens if t not in self._specials]
        return tokens

    # ------------------------------------------------------------------------------------------------ files

    def to_json(self) -> str:
        """The vocabulary as a JSON string (the :meth:`save` format)."""
        payload = {"format": _FORMAT, "version": _VERSION, "specials": list(self._specials), "tokens": self._tokens}
        return json.dumps(payload, ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> Vocabulary:
        """Parse :meth:`to_json` output; errors are one-line ValueErrors naming ``source``."""
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{source}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); "
                "expected a vocabulary written by Vocabulary.save"
            ) from None
        expected = f'expected a JSON object {{"format": "{_FORMAT}", "version": {_VERSION}, "specials", "tokens"}}'
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{source}: not an unrolled vocabulary; {expected}")
        if payload.get("version") != _VERSION:
            raise ValueError(f"{source}: unsupported vocabulary version {payload.get('version')!r}; {expected}")
        specials, tokens = payload.get("specials"), payload.get("tokens")
        if not isinstance(specials, list) or not isinstance(tokens, list):
            raise ValueError(f"{source}: 'specials' and 'tokens' must be lists; {expected}")
        if tokens[: len(specials)] != specials:
            raise ValueError(f"{source}: 'tokens' must start with the specials {specials}; {expected}")
        try:
            return cls(tokens[len(specials) :], specials=specials)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: invalid vocabulary ({err})") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as UTF-8 JSON, atomically (a temporary file, then :func:`os.replace`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = open_temp_file(path.parent, path.name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(self.to_json())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Read a file written by :meth:`save`.

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: not UTF-8, not JSON, or not the vocabulary schema (one line, naming the file).
        """
        return cls.from_json(read_utf8_file(path), source=str(path))


def _check_specials(specials: Sequence[str]) -> tuple[str, ...]:
    if isinstance(specials, str) or not isinstance(specials, Iterable):
        raise TypeError(f"expected specials to be a list drawn from {list(SPECIAL_TOKENS)}, got {specials!r}")
    given = list(specials)
    for s in given:
        if s not in SPECIAL_TOKENS:
            raise ValueError(f"unknown special token {s!r}; expected a subset of {list(SPECIAL_TOKENS)}")
    if len(set(given)) != len(given):
        raise ValueError(f"expected distinct special tokens, got {given}")
    return tuple(s for s in SPECIAL_TOKENS if s in given)
