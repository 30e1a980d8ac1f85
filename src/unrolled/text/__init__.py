"""Text pipeline: normalisation, stop words, tokenizers, vocabulary and bag-of-words matrices."""

from unrolled.text.bow import (
    NORMS,
    WEIGHTINGS,
    BagOfWords,
    CountWeighting,
    TfidfWeighting,
    document_term_matrix,
    term_document_matrix,
)
from unrolled.text.normalize import UNICODE_FORMS, Normalizer
from unrolled.text.stopwords import ENGLISH_STOP_WORDS, StopWords
from unrolled.text.tokenize import TOKENIZERS, CharTokenizer, Tokenizer, WordTokenizer, get_tokenizer
from unrolled.text.vectors import Coverage, WordVectors, embedding_matrix, read_word_vectors
from unrolled.text.vocab import BOS, EOS, PAD, SPECIAL_TOKENS, UNK, Vocabulary

__all__ = [
    "BOS",
    "ENGLISH_STOP_WORDS",
    "EOS",
    "NORMS",
    "PAD",
    "SPECIAL_TOKENS",
    "TOKENIZERS",
    "UNICODE_FORMS",
    "UNK",
    "WEIGHTINGS",
    "BagOfWords",
    "Coverage",
    "CharTokenizer",
    "CountWeighting",
    "Normalizer",
    "StopWords",
    "TfidfWeighting",
    "Tokenizer",
    "Vocabulary",
    "WordTokenizer",
    "WordVectors",
    "document_term_matrix",
    "embedding_matrix",
    "get_tokenizer",
    "read_word_vectors",
    "term_document_matrix",
]
