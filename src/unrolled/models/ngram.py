r"""Count-based n-gram language model: the baseline every neural language model is measured against.

Two estimators, resolved by name through :data:`SMOOTHINGS`:

* ``"add_k"`` (additive / Lidstone smoothing) over the full context :math:`h = w_{i-n+1}^{i-1}`:

  .. math:: P(w \mid h) = \frac{c(h w) + k}{c(h) + k V}

* ``"kneser_ney"``: interpolated Kneser-Ney (Chen & Goodman 1998, "An Empirical Study of Smoothing Techniques
  for Language Modeling", eq. 17). With :math:`a` the *adjusted* counts (raw counts at the highest order,
  continuation counts :math:`N_{1+}(\bullet\, h w) = |\{v : c(v h w) > 0\}|` below it),

  .. math::

      P_m(w \mid h) = \frac{a(h w) - D_m(a(h w))}{\sum_u a(h u)}
                      + \frac{\sum_{r} D_m(r)\, N_r(h \bullet)}{\sum_u a(h u)}\, P_{m-1}(w \mid h')

  where :math:`h'` drops the oldest token of :math:`h`, :math:`N_r(h\bullet)` counts the words following
  :math:`h` with adjusted count ``r``, and the recursion ends in the uniform distribution
  :math:`P_0(w) = 1/V`. A context never seen at order m backs off entirely: :math:`P_m = P_{m-1}`. Plain KN
  uses one discount :math:`D` per order; *modified* KN (``modified=True``, Chen & Goodman 1998 sec. 3) uses
  :math:`D_1, D_2, D_{3+}` estimated per order from the counts-of-counts :math:`n_1..n_4`:
  :math:`Y = n_1 / (n_1 + 2 n_2)`, :math:`D_r = r - (r + 1) Y n_{r+1} / n_r`. Small or artificial data (e.g. a
  character vocabulary, where every unigram has a large continuation count) leave some :math:`n_r = 0`;
  ``discount_fallback`` then supplies the discounts for that order, like KenLM's ``--discount_fallback``.

Every sequence is left-padded with ``order - 1`` copies of an internal start marker that is never predicted
(so the first token is scored given "start of sequence"); no end marker is added (include your own end-of-text
id in the data if you want it modelled). As in KenLM (Heafield et al. 2013, "Scalable Modified Kneser-Ney
Language Model Estimation"), lower-order n-grams that begin with the start marker keep their raw counts, since
they have no left context to be continued from.

Tokens are integer ids in ``[0, V)``; tokens of any other hashable type are looked up in ``vocab``. Tokens
outside the vocabulary map to ``unk_id`` (or raise when it is ``None``). Pure Python/NumPy: no torch.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

_BOS = -1  # internal start-of-sequence marker: pads contexts, never predicted


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class _AddK:
    """Additive smoothing over the full (order - 1)-token context."""

    def __init__(self, order: int, vocab_size: int, k: float) -> None:
        self.order, self.V, self.k = order, vocab_size, k
        self.table: dict[tuple[int, ...], tuple[dict[int, int], int]] = {}

    def fit(self, padded: list[list[int]]) -> None:
        n = self.order
        grams: Counter[tuple[int, ...]] = Counter()
        for seq in padded:
            grams.update(zip(*[seq[j:] for j in range(n)]))
        by_ctx: dict[tuple[int, ...], dict[int, int]] = defaultdict(dict)
        for g, c in grams.items():
            by_ctx[g[:-1]][g[-1]] = c
        self.table = {h: (words, sum(words.values())) for h, words in by_ctx.items()}

    def prob(self, w: int, h: tuple[int, ...]) -> float:
        words, total = self.table.get(h, ({}, 0))
        return (words.get(w, 0) + self.k) / (total + self.k * self.V)

    def distribution(self, h: tuple[int, ...]) -> np.ndarray:
        words, total = self.table.get(h, ({}, 0))
        p = np.full(self.V, self.k, dtype=np.float64)
        if words:
            p[np.fromiter(words.keys(), np.int64)] += np.fromiter(words.values(), np.float64)
        return p / (total + self.k * self.V)


class _KneserNey:
    """Interpolated (optionally modified) Kneser-Ney; see the module docstring for the equations."""

    def __init__(
        self,
        order: int,
        vocab_size: int,
        discount: float,
        modified: bool,
        fallback: tuple[float, float, float] | None,
    ) -> None:
        self.order, self.V, self.discount, self.modified = order, vocab_size, discount, modified
        self.fallback = fallback
        #: per order m = 1..n (index m - 1): context -> (word -> discounted count, backoff mass, total)
        self.tables: list[dict[tuple[int, ...], tuple[dict[int, float], float, float]]] = []
        #: per order m = 1..n: the discounts (D1, D2, D3+); all equal for plain KN
        self.discounts: list[tuple[float, float, float]] = []

    def _adjusted_counts(self, padded: list[list[int]]) -> list[dict[tuple[int, ...], int]]:
        n = self.order
        raw: list[Counter[tuple[int, ...]]] = []
        for m in range(1, n + 1):
            c: Counter[tuple[int, ...]] = Counter()
            for seq in padded:
                # the m-grams ending at each real token: they start at index >= n - m of the padded sequence
                c.update(zip(*[seq[n - m + j :] for j in range(m)]))
            raw.append(c)
        adjusted: list[dict[tuple[int, ...], int]] = [dict() for _ in range(n)]
        adjusted[n - 1] = dict(raw[n - 1])
        for m in range(1, n):
            cont: Counter[tuple[int, ...]] = Counter(g[1:] for g in raw[m] if g[1] != _BOS)
            adj = dict(cont)
            for g, c in raw[m - 1].items():
                if g[0] == _BOS:
                    adj[g] = c
            adjusted[m - 1] = adj
        return adjusted

    def _estimate_discounts(self, m: int, counts: Iterable[int]) -> tuple[float, float, float]:
        if not self.modified:
            return (self.discount,) * 3
        coc = Counter(c for c in counts if c <= 4)
        n1, n2, n3, n4 = (coc[r] for r in (1, 2, 3, 4))
        if min(n1, n2, n3, n4) == 0:
            problem = f"expected counts-of-counts n1..n4 > 0, got {[n1, n2, n3, n4]}"
        else:
            y = n1 / (n1 + 2 * n2)
            d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
            if min(d) > 0:
                return d
            problem = f"expected positive discounts, got D1, D2, D3+ = {tuple(round(x, 4) for x in d)}"
        if self.fallback is not None:
            return self.fallback
        raise ValueError(
            f"modified Kneser-Ney cannot estimate its discounts at order {m}: {problem}; fit more data, "
            "pass discount_fallback=(0.5, 1.0, 1.5) or use modified=False"
        )

    def fit(self, padded: list[list[int]]) -> None:
        self.tables, self.discounts = [], []
        for m, adj in enumerate(self._adjusted_counts(padded), start=1):
            d = self._estimate_discounts(m, adj.values())
            self.discounts.append(d)
            by_ctx: dict[tuple[int, ...], dict[int, int]] = defaultdict(dict)
            for g, c in adj.items():
                by_ctx[g[:-1]][g[-1]] = c
            table = {}
            for h, words in by_ctx.items():
                disc = {w: c - d[min(c, 3) - 1] for w, c in words.items()}
                total = float(sum(words.values()))
                backoff = total - sum(disc.values())
                table[h] = (disc, backoff, total)
            self.tables.append(table)

    def prob(self, w: int, h: tuple[int, ...]) -> float:
        p = 1.0 / self.V
        for m in range(1, self.order + 1):
            entry = self.tables[m - 1].get(h[len(h) - (m - 1) :] if m > 1 else ())
            if entry is not None:
                disc, backoff, total = entry
                p = (disc.get(w, 0.0) + backoff * p) / total
        return p

    def distribution(self, h: tuple[int, ...]) -> np.ndarray:
        p = np.full(self.V, 1.0 / self.V, dtype=np.float64)
        for m in range(1, self.order + 1):
            entry = self.tables[m - 1].get(h[len(h) - (m - 1) :] if m > 1 else ())
            if entry is not None:
                disc, backoff, total = entry
                p *= backoff
                p[np.fromiter(disc.keys(), np.int64)] += np.fromiter(disc.values(), np.float64)
                p /= total
        return p


#: Smoothing methods by name.
SMOOTHINGS: dict[str, type] = {"kneser_ney": _KneserNey, "add_k": _AddK}


class NGramLM:
    r"""An n-gram language model with add-k or interpolated Kneser-Ney smoothing.

    Estimates :math:`P(w_i \mid w_{i-n+1}^{i-1})` from counts (equations in the module docstring). Scores are
    natural logarithms, so :meth:`evaluate` returns mean nats per token, the unit of the neural models'
    cross-entropy.

    Args:
        order: n, the number of tokens in an n-gram (1 = unigram, 2 = bigram, ...).
        vocab_size: V, the number of token ids; defaults to ``len(vocab)`` when ``vocab`` is given.
        smoothing: ``"kneser_ney"`` or ``"add_k"``.
        k: the pseudo-count of add-k smoothing (k > 0).
        discount: the Kneser-Ney discount D, 0 < D <= 1 (Chen & Goodman's default 0.75); unused when
            ``modified=True`` (the discounts are then estimated from the data).
        modified: modified Kneser-Ney with three discounts per order (Chen & Goodman 1998).
        discount_fallback: (D1, D2, D3+) used by modified KN at orders whose discounts cannot be estimated
            (KenLM uses (0.5, 1.0, 1.5)); ``None`` makes that an error. Needs 0 < D_r <= r.
        unk_id: the id that unknown tokens map to; ``None`` makes unknown tokens an error.
        vocab: optional tokens, as a sequence (the id is the position) or a mapping token -> id; lets
            :meth:`fit` and friends take tokens (e.g. strings) as well as ids. ``"<unk>"`` in it sets
            ``unk_id`` by default.

    Shape:
        - :meth:`prob_distribution`: (V,). Sequences: any iterable of tokens of length T.

    Example::

        >>> lm = NGramLM(2, vocab_size=3).fit([[0, 1, 0], [1, 0]])
        >>> round(lm.prob(0, context=[1]), 7)
        0.7890625
        >>> float(lm.prob_distribution([1]).sum())
        1.0
    """

    def __init__(
        self,
        order: int,
        vocab_size: int | None = None,
        smoothing: str = "kneser_ney",
        k: float = 1.0,
        discount: float = 0.75,
        modified: bool = False,
        unk_id: int | None = None,
        vocab: Sequence[Hashable] | Mapping[Hashable, int] | None = None,
        discount_fallback: tuple[float, float, float] | None = None,
    ) -> None:
        if not _is_int(order) or order < 1:
            raise ValueError(f"expected order to be an int >= 1, got {order!r}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"expected smoothing to be one of {sorted(SMOOTHINGS)}, got {smoothing!r}")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k < math.inf:
            raise ValueError(f"expected k > 0, got {k!r}")
        if isinstance(discount, bool) or not isinstance(discount, (int, float)) or not 0 < discount <= 1:
            raise ValueError(f"expected 0 < discount <= 1, got {discount!r}")
        if not isinstance(modified, bool):
            raise TypeError(f"expected modified to be a bool, got {type(modified).__name__}")
        if discount_fallback is not None:
            ok = isinstance(discount_fallback, (tuple, list)) and len(discount_fallback) == 3
            ok = ok and all(
                not isinstance(d, bool) and isinstance(d, (int, float)) and 0 < d <= r
                for r, d in enumerate(discount_fallback, start=1)
            )
            if not ok:
                raise ValueError(
                    f"expected discount_fallback to be None or (D1, D2, D3+) with 0 < D_r <= r, "
                    f"got {discount_fallback!r}"
                )
            discount_fallback = tuple(float(d) for d in discount_fallback)
        self.vocab: dict[Hashable, int] | None = None
        if vocab is not None:
            if isinstance(vocab, Mapping):
                self.vocab = dict(vocab)
            elif isinstance(vocab, Sequence) and not isinstance(vocab, (str, bytes)):
                self.vocab = {tok: i for i, tok in enumerate(vocab)}
            else:
                raise TypeError(f"expected vocab to be a sequence or mapping of tokens, got {type(vocab).__name__}")
            if not all(_is_int(i) and i >= 0 for i in self.vocab.values()):
                raise ValueError("expected the ids in vocab to be ints >= 0")
            if vocab_size is None:
                vocab_size = max(self.vocab.values(), default=-1) + 1
            if unk_id is None:
                unk_id = self.vocab.get("<unk>")
        if vocab_size is None:
            raise ValueError("expected vocab_size (an int >= 1) or a vocab, got neither")
        if not _is_int(vocab_size) or vocab_size < 1:
            raise ValueError(f"expected vocab_size to be an int >= 1, got {vocab_size!r}")
        if self.vocab is not None and max(self.vocab.values(), default=-1) >= vocab_size:
            raise ValueError(f"expected every id in vocab to be < vocab_size={vocab_size}")
        if unk_id is not None and (not _is_int(unk_id) or not 0 <= unk_id < vocab_size):
            raise ValueError(f"expected unk_id to be None or an int in [0, {vocab_size}), got {unk_id!r}")
        self.order = int(order)
        self.vocab_size = int(vocab_size)
        self.smoothing = smoothing
        self.k = float(k)
        self.discount = float(discount)
        self.modified = modified
        self.unk_id = None if unk_id is None else int(unk_id)
        self.num_tokens = 0
        self._fitted = False
        if smoothing == "add_k":
            self._estimator: Any = _AddK(self.order, self.vocab_size, self.k)
        else:
            self._estimator = _KneserNey(self.order, self.vocab_size, self.discount, self.modified, discount_fallback)

    # --- tokens ---------------------------------------------------------------------------------------
    def encode(self, token: Any) -> int:
        """The id of ``token``: ints are ids, other tokens are looked up in ``vocab``; unknown -> ``unk_id``."""
        if _is_int(token):
            if 0 <= token < self.vocab_size:
                return int(token)
        elif self.vocab is not None and isinstance(token, Hashable) and token in self.vocab:
            return self.vocab[token]
        if self.unk_id is not None:
            return self.unk_id
        raise ValueError(
            f"expected a token id in [0, {self.vocab_size}) or a token in vocab, got {token!r} "
            "(pass unk_id to map unknown tokens)"
        )

    @staticmethod
    def _sequences(data: Any) -> list[list[Any]]:
        """One sequence (a flat list of ids, a str, a 1-D array) or an iterable of sequences -> list of lists."""
        if hasattr(data, "tolist"):
            data = data.tolist()
        if isinstance(data, str):
            return [list(data)]
        if not isinstance(data, Iterable):
            raise TypeError(f"expected a sequence of tokens or of sequences, got {type(data).__name__}")
        items = list(data)
        if all(_is_int(x) for x in items):
            return [items]
        out = []
        for seq in items:
            if hasattr(seq, "tolist"):
                seq = seq.tolist()
            if _is_int(seq) or not isinstance(seq, Iterable):
                raise TypeError(
                    f"expected each sequence to be an iterable of tokens, got {type(seq).__name__} "
                    "(mixing ids and sequences?)"
                )
            out.append(list(seq))
        return out

    def _context(self, context: Any) -> tuple[int, ...]:
        if hasattr(context, "tolist"):
            context = context.tolist()
        if _is_int(context):
            context = [context]
        if not isinstance(context, Iterable):
            raise TypeError(f"expected context to be a sequence of tokens, got {type(context).__name__}")
        if self.order == 1:
            return ()
        ids = [self.encode(t) for t in list(context)[-(self.order - 1) :]]
        return (_BOS,) * (self.order - 1 - len(ids)) + tuple(ids)

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError("expected a fitted model: call fit(sequences) first")

    # --- estimation -----------------------------------------------------------------------------------
    def fit(self, sequences: Any) -> NGramLM:
        """Count n-grams in ``sequences`` (replacing earlier counts) and return ``self``.

        Args:
            sequences: one sequence of ids (list, 1-D array or tensor), or an iterable of sequences of
                tokens (ids, or tokens in ``vocab``; a ``str`` is a sequence of characters).
        """
        pad = [_BOS] * (self.order - 1)
        padded = [pad + [self.encode(t) for t in seq] for seq in self._sequences(sequences)]
        self.num_tokens = sum(len(s) - len(pad) for s in padded)
        self._estimator.fit(padded)
        self._fitted = True
        return self

    @property
    def discounts(self) -> list[tuple[float, float, float]]:
        """Kneser-Ney discounts (D1, D2, D3+) for orders 1..n (empty for add-k)."""
        return list(getattr(self._estimator, "discounts", []))

    # --- scoring --------------------------------------------------------------------------------------
    def prob(self, token: Any, context: Any = ()) -> float:
        """:math:`P(token \\mid context)`; only the last n - 1 context tokens matter, and a shorter context
        means the start of a sequence."""
        self._check_fitted()
        return self._estimator.prob(self.encode(token), self._context(context))

    def logprob(self, token: Any, context: Any = ()) -> float:
        """Natural log of :meth:`prob`."""
        p = self.prob(token, context)
        return math.log(p) if p > 0 else -math.inf

    def prob_distribution(self, context: Any = ()) -> np.ndarray:
        """The next-token distribution after ``context``: a float64 array of shape (V,) that sums to 1."""
        self._check_fitted()
        return self._estimator.distribution(self._context(context))

    def evaluate(self, data: Any, skip: int = 0) -> float:
        """Mean negative log-likelihood in nats per token of one sequence or an iterable of sequences
        (each scored from the start-of-sequence context). ``exp`` of it is the perplexity.

        ``skip``: the first ``skip`` tokens of each sequence are context only, not scored (``skip=1`` scores
        exactly the targets a recurrent model scores when it reads the sequence from its first token)."""
        total, count = self.score(data, skip)
        if count == 0:
            raise ValueError("expected at least one token to evaluate, got none")
        return total / count

    def score(self, data: Any, skip: int = 0) -> tuple[float, int]:
        """``(total negative log-likelihood in nats, number of tokens scored)`` over the sequences of ``data``,
        the first ``skip`` tokens of each being context only (see :meth:`evaluate`)."""
        self._check_fitted()
        if not _is_int(skip) or skip < 0:
            raise ValueError(f"expected skip to be an int >= 0, got {skip!r}")
        total, count = 0.0, 0
        for seq in self._sequences(data):
            ids = [self.encode(t) for t in seq]
            ctx = [_BOS] * (self.order - 1) + ids
            for i, w in enumerate(ids):
                if i < skip:
                    continue
                h = tuple(ctx[i : i + self.order - 1])
                total -= math.log(self._estimator.prob(w, h))
                count += 1
        return total, count

    def perplexity(self, data: Any) -> float:
        """``exp(evaluate(data))``."""
        return math.exp(self.evaluate(data))

    # --- generation -----------------------------------------------------------------------------------
    def generate(
        self,
        max_new_tokens: int,
        prime: Any = (),
        seed: int | None = None,
        temperature: float = 1.0,
        eos_id: int | None = None,
    ) -> list[int]:
        """Sample up to ``max_new_tokens`` ids after ``prime`` (default: the start of a sequence).

        Draws from :math:`p^{1/T}` renormalised (``temperature`` T; T = 0 takes the argmax) with a local
        ``numpy.random.Generator`` seeded by ``seed``; stops after emitting ``eos_id`` (included).
        """
        self._check_fitted()
        if not _is_int(max_new_tokens) or max_new_tokens < 0:
            raise ValueError(f"expected max_new_tokens to be an int >= 0, got {max_new_tokens!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature:
            raise ValueError(f"expected temperature >= 0, got {temperature!r}")
        rng = np.random.default_rng(seed)
        ctx = list(self._context(prime))
        out: list[int] = []
        for _ in range(max_new_tokens):
            p = self._estimator.distribution(tuple(ctx[len(ctx) - (self.order - 1) :]) if self.order > 1 else ())
            if temperature == 0:
                w = int(np.argmax(p))
            else:
                logp = np.log(np.maximum(p, 1e-300)) / temperature
                q = np.exp(logp - logp.max())
                w = int(rng.choice(self.vocab_size, p=q / q.sum()))
            out.append(w)
            ctx.append(w)
            if eos_id is not None and w == eos_id:
                break
        return out

    def __repr__(self) -> str:
        extra = f"k={self.k}" if self.smoothing == "add_k" else f"discount={self.discount}, modified={self.modified}"
        return f"NGramLM(order={self.order}, vocab_size={self.vocab_size}, smoothing={self.smoothing!r}, {extra})"
