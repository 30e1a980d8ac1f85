"""Text <-> token ids for one language-modeling run, and the per-tokenizer choices made once: the metric shown while
training and the "bits per ..." unit (:data:`TOKEN_UNITS`), and where ``<eos>`` goes (:data:`EOS_MODES`).

The pipeline, applied identically when training, generating and evaluating:
normalise (lowercase, strip punctuation / numbers / special characters) -> tokenize -> drop stop words ->
``<eos>`` (per :data:`EOS_MODES`) -> vocabulary ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from unrolled.text.normalize import Normalizer
from unrolled.text.stopwords import StopWords
from unrolled.text.tokenize import TOKENIZERS, get_tokenizer
from unrolled.text.vocab import BOS, EOS, PAD, UNK, Vocabulary

__all__ = ["DEFAULT_EOS", "EOS_MODES", "TOKENIZER_OPTIONS", "TOKEN_UNITS", "TextCodec", "TokenUnit"]

#: tokenizer options per tokenizer name: word-level LMs keep line breaks so generated text keeps its lines
TOKENIZER_OPTIONS: dict[str, dict[str, object]] = {
    "char": {},
    "word": {"keep_newlines": True},
    "whitespace": {"keep_newlines": True},
}


@dataclass(frozen=True)
class TokenUnit:
    """How the loss of a tokenizer's runs is shown.

    Args:
        metric: the ``TrainConfig.metric`` shown while training (``bpc`` for characters, ``ppl`` for words).
        bits_key: the key of the bits-per-token figure in ``unrolled evaluate --json``.
        bits_label: its short label (``bpc``, ``bits/word``).
    """

    metric: str
    bits_key: str
    bits_label: str


#: per tokenizer: the metric shown while training and the name of bits per token
TOKEN_UNITS: dict[str, TokenUnit] = {
    "char": TokenUnit(metric="bpc", bits_key="bpc", bits_label="bpc"),
    "word": TokenUnit(metric="ppl", bits_key="bits_per_word", bits_label="bits/word"),
    "whitespace": TokenUnit(metric="ppl", bits_key="bits_per_word", bits_label="bits/word"),
}

#: where ``<eos>`` is put into the token stream (and so where generation can stop)
EOS_MODES: dict[str, str] = {
    "none": "no <eos>: the text's own newlines are its structure (generation stops at a newline with --stop-at-eos)",
    "line": "every line break is an <eos> token (sentence-per-line corpora, as PTB); it prints as a newline",
    "document": "an <eos> after each document (each .txt file of a folder, or the whole file)",
}

#: ``data.eos`` when the config leaves it out
DEFAULT_EOS: dict[str, str] = {"char": "none", "word": "line", "whitespace": "line"}

_EOS_TEXT = {"none": "", "line": "\n", "document": "\n\n"}

if set(TOKEN_UNITS) != set(TOKENIZERS) or set(DEFAULT_EOS) != set(TOKENIZERS):  # pragma: no cover
    raise ImportError("unrolled.tasks.lm.codec: TOKEN_UNITS and DEFAULT_EOS must cover every tokenizer")


@dataclass
class TextCodec:
    """Text <-> ids for one run: normaliser, tokenizer, stop words, ``<eos>`` and vocabulary, rebuilt identically
    from a run folder."""

    tokenizer_name: str
    lowercase: bool
    vocab: Vocabulary
    strip_punctuation: bool = False
    strip_numbers: bool = False
    strip_special: bool = False
    stop_words: StopWords | None = None
    eos: str = "none"
    unk_token: str | None = None  # the corpus's own unknown token (e.g. PTB's "<unk>"), read as <unk>

    def __post_init__(self) -> None:
        self.tokenizer = get_tokenizer(self.tokenizer_name, **TOKENIZER_OPTIONS[self.tokenizer_name])
        self.normalizer = Normalizer(
            lowercase=self.lowercase,
            strip_punctuation=self.strip_punctuation,
            strip_numbers=self.strip_numbers,
            strip_special=self.strip_special,
        )
        if self.eos not in EOS_MODES:
            raise ValueError(f"data.eos must be one of {', '.join(EOS_MODES)}, got {self.eos!r}")

    # --- text -> tokens -> ids --------------------------------------------------------------------------
    def tokens(self, text: str) -> list[str]:
        """The tokens of one piece of text (``line`` mode: each line break is ``<eos>``)."""
        tokens = self.tokenizer.tokenize(self.normalizer(text))
        if self.stop_words is not None:
            tokens = self.stop_words.remove(tokens)
        if self.unk_token is not None and self.unk_token != UNK:
            tokens = [UNK if t == self.unk_token else t for t in tokens]
        if self.eos == "line":
            tokens = [EOS if t == "\n" else t for t in tokens]
        return tokens

    def document_tokens(self, documents: Sequence[str]) -> list[str]:
        """The token stream of a corpus: ``document`` mode ends each document with ``<eos>``; the other modes read
        the documents joined by a newline (as :func:`~unrolled.data.read_text` does)."""
        if self.eos != "document":
            return self.tokens("\n".join(documents))
        out: list[str] = []
        for doc in documents:
            out.extend(self.tokens(doc))
            out.append(EOS)
        return out

    def encode(self, text: str) -> Tensor:
        return torch.tensor(self.vocab.encode(self.tokens(text)), dtype=torch.long)

    def encode_documents(self, documents: Sequence[str]) -> Tensor:
        return torch.tensor(self.vocab.encode(self.document_tokens(documents)), dtype=torch.long)

    def unknown(self, text: str) -> list[str]:
        """The distinct tokens of ``text`` that the vocabulary lacks (they read as ``<unk>``), in order."""
        seen: dict[str, None] = {}
        for t in self.tokens(text):
            if t not in self.vocab:
                seen.setdefault(t, None)
        return list(seen)

    # --- ids -> text ------------------------------------------------------------------------------------
    def _text_tokens(self, tokens: Sequence[str]) -> list[str]:
        end = _EOS_TEXT[self.eos]
        return [end if t == EOS else t for t in tokens if not (t == EOS and not end)]

    def decode(self, ids: list[int] | Tensor) -> str:
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        return self.tokenizer.detokenize(self._text_tokens([self.vocab.id_to_token(i) for i in ids]))

    def continuation(self, prime: str, new_ids: Sequence[int]) -> str:
        """``prime`` exactly as given, followed by the text of ``new_ids`` spaced as the tokenizer joins them."""
        head = self._text_tokens(self.tokens(prime))
        tail = self._text_tokens([self.vocab.id_to_token(i) for i in new_ids])
        prefix = self.tokenizer.detokenize(head)
        full = self.tokenizer.detokenize(head + tail)
        rest = full[len(prefix) :] if full.startswith(prefix) else self.tokenizer.detokenize(tail)
        return prime + rest

    # --- generation -------------------------------------------------------------------------------------
    def start_ids(self, prime: str) -> list[int]:
        """Ids that generation starts from: the prime's; for an empty prime the start of a line (``<eos>`` in
        ``line`` / ``document`` mode, else a newline when the vocabulary has one, else the most frequent token)."""
        if prime:
            ids = self.vocab.encode(self.tokens(prime))
            if ids:
                return ids
        if self.eos != "none":
            return [self.vocab.eos_id]
        if "\n" in self.vocab:
            return [self.vocab.token_to_id("\n")]
        return [len(self.vocab.specials)]  # the most frequent token: ids follow frequency after the specials

    @property
    def end_id(self) -> int | None:
        """The id that ends a generated piece with ``--stop-at-eos``: ``<eos>``, or a newline in ``none`` mode."""
        if self.eos != "none":
            return self.vocab.eos_id
        return self.vocab.token_to_id("\n") if "\n" in self.vocab else None

    @property
    def suppress_ids(self) -> list[int]:
        """Special tokens never generated: ``<pad>``, ``<bos>``, ``<unk>``, and ``<eos>`` when the stream has none."""
        names = [UNK, PAD, BOS] + ([EOS] if self.eos == "none" else [])
        return [self.vocab.token_to_id(t) for t in names if t in self.vocab.specials]

    @property
    def unit(self) -> TokenUnit:
        return TOKEN_UNITS[self.tokenizer_name]
