r"""Bag-of-words matrices: raw counts or tf-idf, as sparse COO tensors.

The matrices are :func:`torch.sparse_coo_tensor` (coalesced) so no extra dependency is needed and they feed
``torch.sparse.mm`` directly; call ``.to_dense()`` for small corpora.

tf-idf follows scikit-learn's ``TfidfTransformer`` defaults (``smooth_idf=True``), itself after Salton &
Buckley (1988), "Term-weighting approaches in automatic text retrieval":

.. math::
    \text{tfidf}(d, w) = \text{tf}(d, w) \cdot \left(\ln\frac{1 + n}{1 + \text{df}(w)} + 1\right)

with ``tf`` the raw count of ``w`` in document ``d``, ``n`` the number of fitted documents and ``df(w)`` the
number of them holding ``w``; rows are then optionally divided by their L2 (or L1) norm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from unrolled.text.vocab import Vocabulary

__all__ = [
    "NORMS",
    "WEIGHTINGS",
    "BagOfWords",
    "CountWeighting",
    "TfidfWeighting",
    "document_term_matrix",
    "term_document_matrix",
]


@dataclass
class CountWeighting:
    """Raw term counts, :math:`\\text{tf}(d, w)`. Needs no fitting."""

    def fit(self, doc_freq: torch.Tensor, n_docs: int) -> None:
        """Nothing to learn."""

    @property
    def fitted(self) -> bool:
        return True

    def __call__(self, values: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return values


@dataclass
class TfidfWeighting:
    """Counts times the smoothed inverse document frequency ``idf = ln((1 + n) / (1 + df)) + 1``."""

    idf: torch.Tensor | None = field(default=None)

    def fit(self, doc_freq: torch.Tensor, n_docs: int) -> None:
        """Learn ``idf`` (float64, one per vocabulary id) from document frequencies of ``n_docs`` documents."""
        self.idf = torch.log((1.0 + n_docs) / (1.0 + doc_freq.to(torch.float64))) + 1.0

    @property
    def fitted(self) -> bool:
        return self.idf is not None

    def __call__(self, values: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return values * self.idf[cols]


WEIGHTINGS: dict[str, type] = {"count": CountWeighting, "tfidf": TfidfWeighting}


def _l1(values: torch.Tensor) -> torch.Tensor:
    return values.abs()


def _l2(values: torch.Tensor) -> torch.Tensor:
    return values.square()


def _sqrt(x: torch.Tensor) -> torch.Tensor:
    return x.sqrt()


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


# name -> (per-entry contribution, finish on the row sum)
NORMS = {"l1": (_l1, _identity), "l2": (_l2, _sqrt)}


class BagOfWords:
    r"""Turn tokenised documents into a sparse document-term matrix over a :class:`Vocabulary`.

    Column ``j`` counts vocabulary id ``j`` (special-token columns stay zero unless ``<unk>`` catches unknown
    tokens). :meth:`fit` learns the document frequencies (tf-idf only) from a training set; :meth:`transform`
    applies them to any set, as scikit-learn's vectorizers do.

    Args:
        vocab: the term index.
        weighting: a key of :data:`WEIGHTINGS`, ``"count"`` or ``"tfidf"``. Default: ``"count"``.
        norm: ``None``, ``"l2"`` or ``"l1"`` row normalisation (a key of :data:`NORMS`). Default: ``None``.
            scikit-learn's ``TfidfVectorizer()`` is ``weighting="tfidf", norm="l2"``.
        ignore_unknown: drop tokens missing from ``vocab`` instead of counting them as ``<unk>`` (without
            ``<unk>`` in the vocabulary, unknown tokens are an error unless this is set). Default: ``False``.
        dtype: floating dtype of the output. Default: ``torch.float32``.

    Shape:
        - docs: ``D`` token lists
        - output: sparse :math:`(D, V)`, ``V = len(vocab)``

    Example::

        >>> vocab = Vocabulary.build("a b b c".split(), specials=())
        >>> vocab.tokens  # most frequent first
        ['b', 'a', 'c']
        >>> BagOfWords(vocab).fit_transform([["a", "b", "b"], ["c"]]).to_dense()
        tensor([[2., 1., 0.],
                [0., 0., 1.]])
    """

    def __init__(
        self,
        vocab: Vocabulary,
        *,
        weighting: str = "count",
        norm: str | None = None,
        ignore_unknown: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if not isinstance(vocab, Vocabulary):
            raise TypeError(f"expected vocab to be a Vocabulary, got {type(vocab).__name__}")
        if not isinstance(weighting, str) or weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; expected one of: {', '.join(WEIGHTINGS)}")
        if norm is not None and (not isinstance(norm, str) or norm not in NORMS):
            raise ValueError(f"unknown norm {norm!r}; expected None or one of: {', '.join(NORMS)}")
        if not isinstance(ignore_unknown, bool):
            raise TypeError(f"expected ignore_unknown to be a bool, got {type(ignore_unknown).__name__}")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"expected a floating torch.dtype, got {dtype!r}")
        self.vocab = vocab
        self.weighting = WEIGHTINGS[weighting]()
        self.norm = None if norm is None else NORMS[norm]
        self.ignore_unknown = ignore_unknown
        self.dtype = dtype

    @property
    def idf(self) -> torch.Tensor | None:
        """The fitted ``(V,)`` float64 idf vector (tf-idf weighting only; ``None`` before :meth:`fit`)."""
        return getattr(self.weighting, "idf", None)

    def counts(self, docs: Sequence[Sequence[str]]) -> torch.Tensor:
        """The coalesced sparse ``(D, V)`` float64 matrix of raw counts."""
        if isinstance(docs, str) or not isinstance(docs, Sequence):
            raise TypeError(f"expected a list of token lists, got {type(docs).__name__}")
        rows: list[int] = []
        cols: list[int] = []
        for d, doc in enumerate(docs):
            if isinstance(doc, str):
                raise TypeError(f"expected docs[{d}] to be a list of tokens, got a str; tokenize it first")
            if self.ignore_unknown:
                ids = self.vocab.encode([t for t in doc if t in self.vocab])
            else:
                ids = self.vocab.encode(doc)
            rows.extend([d] * len(ids))
            cols.extend(ids)
        indices = torch.tensor([rows, cols], dtype=torch.long).reshape(2, len(rows))
        values = torch.ones(len(rows), dtype=torch.float64)
        return torch.sparse_coo_tensor(indices, values, (len(docs), len(self.vocab)), check_invariants=False).coalesce()

    def fit(self, docs: Sequence[Sequence[str]]) -> BagOfWords:
        """Learn document frequencies from ``docs`` (needed by tf-idf, harmless for counts)."""
        counts = self.counts(docs)
        doc_freq = torch.bincount(counts.indices()[1], minlength=len(self.vocab))
        self.weighting.fit(doc_freq, len(docs))
        return self

    def transform(self, docs: Sequence[Sequence[str]]) -> torch.Tensor:
        """The weighted (and normalised) sparse ``(D, V)`` matrix of ``docs``."""
        if not self.weighting.fitted:
            raise ValueError("tf-idf weighting is not fitted; call fit(train_docs) before transform")
        counts = self.counts(docs)
        rows, cols = counts.indices()
        values = self.weighting(counts.values(), cols)
        if self.norm is not None:
            contribution, finish = self.norm
            row_norm = finish(torch.zeros(counts.size(0), dtype=values.dtype).index_add_(0, rows, contribution(values)))
            values = values / row_norm[rows]
        return torch.sparse_coo_tensor(
            counts.indices(), values.to(self.dtype), counts.shape, check_invariants=False
        ).coalesce()

    def fit_transform(self, docs: Sequence[Sequence[str]]) -> torch.Tensor:
        """:meth:`fit` then :meth:`transform` on the same documents."""
        return self.fit(docs).transform(docs)


def document_term_matrix(
    docs: Sequence[Sequence[str]],
    vocab: Vocabulary,
    *,
    weighting: str = "count",
    norm: str | None = None,
    ignore_unknown: bool = False,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Sparse ``(D, V)`` matrix of ``docs``, weights fitted on ``docs`` themselves (see :class:`BagOfWords`)."""
    bow = BagOfWords(vocab, weighting=weighting, norm=norm, ignore_unknown=ignore_unknown, dtype=dtype)
    return bow.fit_transform(docs)


def term_document_matrix(
    docs: Sequence[Sequence[str]],
    vocab: Vocabulary,
    *,
    weighting: str = "count",
    norm: str | None = None,
    ignore_unknown: bool = False,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Sparse ``(V, D)`` transpose of :func:`document_term_matrix` (``norm`` still normalises documents)."""
    dtm = document_term_matrix(docs, vocab, weighting=weighting, norm=norm, ignore_unknown=ignore_unknown, dtype=dtype)
    return dtm.t().coalesce()
