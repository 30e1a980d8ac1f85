"""Unicode-aware text normalisation, configured by a dataclass and applied with one call."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["UNICODE_FORMS", "Normalizer"]

UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")

# Unicode general categories (https://www.unicode.org/reports/tr44/#General_Category_Values).
_PUNCTUATION = frozenset({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"})
_NUMBERS = frozenset({"Nd", "Nl", "No"})
_SPECIAL = frozenset({"Sm", "Sc", "Sk", "So", "Cc", "Cf", "Co", "Cn", "Cs"})

_SPACE_RUN = re.compile(r"\s+")
_SPACE_RUN_WITH_NEWLINE = re.compile(r"\s*\n\s*")
_HSPACE_RUN = re.compile(r"[^\S\n]+")


@dataclass(frozen=True)
class Normalizer:
    r"""Normalise text before tokenisation.

    The steps run in this order, each only when enabled:

    1. ``unicode_form``: :func:`unicodedata.normalize` (``"NFKC"`` folds e.g. full-width letters and ligatures);
    2. ``lowercase``: :meth:`str.lower`;
    3. ``strip_punctuation``: replace every character of Unicode category ``P*`` (``. , ! ? ' " - ( ) « »``, ...);
    4. ``strip_numbers``: replace every character of category ``N*`` (``0-9``, ``²``, ``Ⅻ``, ``٣``, ...);
    5. ``strip_special``: replace every symbol, category ``S*`` (``$ + = ^ | ~ © €`` and emoji), and every
       non-whitespace control/format/private/unassigned character, category ``C*`` (e.g. ``\x00``, zero-width
       joiner); whitespace such as ``\n`` and ``\t`` is not special;
    6. ``collapse_whitespace``: replace every run of whitespace by one space and strip both ends; with
       ``keep_newlines`` a run that holds a newline becomes one ``"\n"`` instead (so line structure survives
       and blank lines collapse).

    Stripped characters are replaced by ``replacement`` (default ``""``; use ``" "`` so ``"a,b"`` becomes two
    words). Every option defaults to off, so ``Normalizer()`` is the identity: a character-level language
    model usually wants its text untouched, and whitespace collapsing would destroy layout such as verse.

    Args:
        lowercase: lower-case the text. Default: ``False``.
        strip_punctuation: remove punctuation (``P*``). Default: ``False``.
        strip_numbers: remove digits and other numerals (``N*``). Default: ``False``.
        strip_special: remove symbols (``S*``) and invisible control characters (``C*``). Default: ``False``.
        collapse_whitespace: collapse whitespace runs and strip the ends. Default: ``False``.
        keep_newlines: with ``collapse_whitespace``, keep one ``"\n"`` per run holding a newline, and collapse
            only the other runs to one space. Default: ``False``.
        unicode_form: one of ``"NFC"``, ``"NFD"``, ``"NFKC"``, ``"NFKD"``, or ``None``. Default: ``None``.
        replacement: what stripped characters become. Default: ``""``.

    Example::

        >>> Normalizer(lowercase=True, strip_punctuation=True, collapse_whitespace=True)("Hello,  World!")
        'hello world'
    """

    lowercase: bool = False
    strip_punctuation: bool = False
    strip_numbers: bool = False
    strip_special: bool = False
    collapse_whitespace: bool = False
    keep_newlines: bool = False
    unicode_form: str | None = None
    replacement: str = ""

    def __post_init__(self) -> None:
        for name in (
            "lowercase",
            "strip_punctuation",
            "strip_numbers",
            "strip_special",
            "collapse_whitespace",
            "keep_newlines",
        ):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"expected {name} to be a bool, got {type(value).__name__}")
        if self.unicode_form is not None and self.unicode_form not in UNICODE_FORMS:
            raise ValueError(f"expected unicode_form in {UNICODE_FORMS} or None, got {self.unicode_form!r}")
        if not isinstance(self.replacement, str):
            raise TypeError(f"expected replacement to be a str, got {type(self.replacement).__name__}")
        if self.keep_newlines and not self.collapse_whitespace:
            raise ValueError("keep_newlines only applies with collapse_whitespace=True; set both or neither")
        dropped: set[str] = set()
        if self.strip_punctuation:
            dropped |= _PUNCTUATION
        if self.strip_numbers:
            dropped |= _NUMBERS
        if self.strip_special:
            dropped |= _SPECIAL
        object.__setattr__(self, "_dropped", frozenset(dropped))

    def _drop(self, ch: str) -> bool:
        return unicodedata.category(ch) in self._dropped and not ch.isspace()

    def __call__(self, text: str) -> str:
        """Return the normalised ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"expected text to be a str, got {type(text).__name__}")
        if self.unicode_form is not None:
            text = unicodedata.normalize(self.unicode_form, text)
        if self.lowercase:
            text = text.lower()
        if self._dropped:
            # One category lookup per distinct character, then a C-speed translate over the whole text.
            table = {ord(ch): self.replacement for ch in set(text) if self._drop(ch)}
            text = text.translate(table)
        if self.collapse_whitespace:
            if self.keep_newlines:
                text = _HSPACE_RUN.sub(" ", _SPACE_RUN_WITH_NEWLINE.sub("\n", text)).strip()
            else:
                text = _SPACE_RUN.sub(" ", text).strip()
        return text
