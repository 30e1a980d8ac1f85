"""From a text (a file, a folder, or the built-in corpus) to a vocabulary and train/validation token streams."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from unrolled.data.builtin_corpus import python_stdlib_corpus
from unrolled.data.readers import read_documents
from unrolled.tasks.lm.codec import TOKENIZER_OPTIONS, TextCodec
from unrolled.tasks.lm.config import BUILTIN_STOP_WORDS, LMDataConfig
from unrolled.text.stopwords import StopWords
from unrolled.text.vocab import Vocabulary

__all__ = ["TOKENIZER_OPTIONS", "PreparedCorpus", "TextCodec", "load_corpus_text", "make_codec", "prepare_corpus"]

#: the copy of a run's stop-word list in its folder
STOP_WORDS_FILE = "stop_words.txt"


@dataclass
class PreparedCorpus:
    codec: TextCodec
    train_ids: Tensor  # (N_train,)
    valid_ids: Tensor  # (N_valid,)
    source: dict[str, Any]
    test_ids: Tensor | None = None  # (N_test,), when data.test names the test split


def load_corpus_documents(cfg: LMDataConfig) -> tuple[list[str], dict[str, Any]]:
    """The raw documents and a description of where they came from (recorded in the run's config; ``sha256`` is
    the hash of the documents joined by newlines, i.e. of :func:`~unrolled.data.read_text`'s result)."""
    if cfg.path is None:
        try:
            corpus = python_stdlib_corpus()
        except RuntimeError as e:  # a Python installation without the modules' source
            raise ValueError(str(e)) from None
        source = {"kind": "builtin:python-stdlib", "modules": list(corpus.modules), "sha256": corpus.sha256}
        return [corpus.text], source
    docs = read_documents(cfg.path)
    text = "\n".join(docs)
    return docs, {"kind": "file", "path": str(cfg.path), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def load_corpus_text(cfg: LMDataConfig) -> tuple[str, dict[str, Any]]:
    """The raw text (documents joined by newlines) and a description of where it came from."""
    docs, source = load_corpus_documents(cfg)
    return "\n".join(docs), source


def load_stop_words(cfg: LMDataConfig, run_dir: str | Path | None = None) -> StopWords | None:
    """The stop words of ``cfg``: from the run folder's copy when ``run_dir`` is given, else from ``cfg``."""
    if cfg.stop_words is None:
        return None
    if run_dir is not None:
        path = Path(run_dir) / STOP_WORDS_FILE
        if not path.is_file():
            raise ValueError(f"{run_dir} has no {STOP_WORDS_FILE} (its data.stop_words is set); the run is incomplete")
        return StopWords.from_file(path)
    if cfg.stop_words == BUILTIN_STOP_WORDS:
        return StopWords()
    return StopWords.from_file(cfg.stop_words)


def save_stop_words(stop_words: StopWords | None, run_dir: Path) -> None:
    if stop_words is not None:
        (run_dir / STOP_WORDS_FILE).write_text("".join(f"{w}\n" for w in sorted(stop_words.words)), encoding="utf-8")


def make_codec(cfg: LMDataConfig, vocab: Vocabulary, stop_words: StopWords | None) -> TextCodec:
    return TextCodec(
        cfg.tokenizer,
        cfg.lowercase,
        vocab,
        strip_punctuation=cfg.strip_punctuation,
        strip_numbers=cfg.strip_numbers,
        strip_special=cfg.strip_special,
        stop_words=stop_words,
        eos=cfg.eos,
        unk_token=cfg.unk_token,
    )


def _split_file(path: str, role: str, codec: TextCodec, need: int) -> tuple[list[str], dict[str, Any]]:
    """The tokens of the validation or test file at ``path`` and its description (path, sha256, tokens)."""
    docs = read_documents(path)
    tokens = codec.document_tokens(docs)
    if len(tokens) < need:
        raise ValueError(f"the {role} text {path} has {len(tokens)} tokens; expected at least {need}")
    digest = hashlib.sha256("\n".join(docs).encode()).hexdigest()
    return tokens, {"path": str(path), "sha256": digest, "tokens": len(tokens)}


def prepare_corpus(cfg: LMDataConfig) -> PreparedCorpus:
    """Tokenize, split off the last ``valid_fraction`` for validation (or read ``cfg.valid``), build the vocabulary
    on the training part only, and encode the test split (``cfg.test``) with it."""
    docs, source = load_corpus_documents(cfg)
    stop_words = load_stop_words(cfg)
    probe = make_codec(cfg, Vocabulary(), stop_words)
    tokens = probe.document_tokens(docs)
    need = 2 * max(cfg.batch_size, cfg.eval_batch_size) + 2
    test_tokens = None
    if cfg.test is not None:
        test_tokens, source["test"] = _split_file(cfg.test, "test", probe, 2)
    if cfg.valid is not None:
        valid_tokens, source["valid"] = _split_file(cfg.valid, "validation", probe, 2 * cfg.eval_batch_size)
        if len(tokens) < need:
            raise ValueError(f"the training text has {len(tokens)} {cfg.tokenizer} tokens; expected at least {need}")
        return _encode(cfg, probe, stop_words, tokens, valid_tokens, test_tokens, source, docs)
    n_valid = int(len(tokens) * cfg.valid_fraction)
    if n_valid < need or len(tokens) - n_valid < need:
        raise ValueError(
            f"the corpus has {len(tokens)} {cfg.tokenizer} tokens; with valid_fraction={cfg.valid_fraction} it needs "
            f"at least {need} tokens in each split (use more text or a smaller batch size)"
        )
    train_tokens, valid_tokens = tokens[:-n_valid], tokens[-n_valid:]
    return _encode(cfg, probe, stop_words, train_tokens, valid_tokens, test_tokens, source, docs, len(tokens))


def _encode(
    cfg: LMDataConfig,
    probe: TextCodec,
    stop_words: StopWords | None,
    train_tokens: list[str],
    valid_tokens: list[str],
    test_tokens: list[str] | None,
    source: dict[str, Any],
    docs: list[str],
    total: int | None = None,
) -> PreparedCorpus:
    vocab = Vocabulary.build(train_tokens, min_freq=cfg.min_freq, max_size=cfg.max_vocab)  # training text only
    codec = make_codec(cfg, vocab, stop_words)
    source.update(chars=sum(len(d) for d in docs) + len(docs) - 1, tokens=total or len(train_tokens))
    source.update(train_tokens=len(train_tokens), valid_tokens=len(valid_tokens))
    train_ids = torch.tensor(vocab.encode(train_tokens), dtype=torch.long)
    valid_ids = torch.tensor(vocab.encode(valid_tokens), dtype=torch.long)
    test_ids = None
    if test_tokens is not None:
        source["test_tokens"] = len(test_tokens)
        test_ids = torch.tensor(vocab.encode(test_tokens), dtype=torch.long)
    return PreparedCorpus(codec, train_ids, valid_ids, source, test_ids)
