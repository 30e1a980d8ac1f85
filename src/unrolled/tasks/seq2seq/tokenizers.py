"""The tokenizers a seq2seq run may use: the text package's (``char``, ``word``) and ``whitespace`` for
pre-tokenised corpora (split on runs of whitespace, joined with single spaces)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from unrolled.text.tokenize import TOKENIZERS

__all__ = ["SEQ2SEQ_TOKENIZERS", "WhitespaceTokenizer", "make_tokenizer"]


@dataclass(frozen=True)
class WhitespaceTokenizer:
    """Tokens are the runs of non-space characters (text already tokenised, e.g. Multi30k's)."""

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


SEQ2SEQ_TOKENIZERS: dict[str, type] = {**TOKENIZERS, "whitespace": WhitespaceTokenizer}


def make_tokenizer(name: str):
    if name not in SEQ2SEQ_TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {sorted(SEQ2SEQ_TOKENIZERS)}, got {name!r}")
    return SEQ2SEQ_TOKENIZERS[name]()
