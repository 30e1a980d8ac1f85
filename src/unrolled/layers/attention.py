r"""``Attention``: a query reads a weighted mean of values, weighted by a score against each key.

.. math::
    e_{s} = \mathrm{score}(q, k_s), \qquad
    \alpha_s = \frac{\exp e_s}{\sum_{s' \in \mathcal{M}} \exp e_{s'}} \;(s \in \mathcal{M}),\ \alpha_s = 0
    \;(s \notin \mathcal{M}), \qquad c = \sum_s \alpha_s v_s

with :math:`\mathcal{M}` the unmasked (real, not padded) source positions. The scores, resolved once by name
through :data:`SCORES`:

==============  ===========================================================  ==============================
name            :math:`\mathrm{score}(q, k_s)`                               reference
==============  ===========================================================  ==============================
``cosine``      :math:`\beta\,\frac{q'\cdot k_s}{\|q'\|\,\|k_s\|}`, :math:`\beta =    Graves et al. 2014 (NTM, eq. 5-6)
                \mathrm{softplus}(w_\beta^\top q + b_\beta)`, :math:`q' = W_q q`
``additive``    :math:`v_a^\top \tanh(W_q q + W_k k_s)` (= ``concat``)        Bahdanau et al. 2015; Luong et al. 2015
``location``    :math:`(W_a q)_s` (the query alone, one output per position)  Luong et al. 2015, eq. 8
``general``     :math:`q^\top W_a k_s`                                        Luong et al. 2015, eq. 8
``dot``         :math:`q^\top k_s`                                            Luong et al. 2015, eq. 8
``scaled_dot``  :math:`q^\top k_s / \sqrt{d_k}`                               Vaswani et al. 2017, eq. 1
==============  ===========================================================  ==============================

:math:`q'` in ``cosine`` is the query itself when ``query_size == key_size`` (no parameter), else a learnt
projection to the key width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SCORES", "AdditiveScore", "Attention", "CosineScore", "DotScore", "GeneralScore", "LocationScore"]


class DotScore(nn.Module):
    r"""Dot score :math:`e_{ts} = q_t^\top k_s` (Luong et al. 2015, eq. 8). Needs Q = K. No parameters."""

    def __init__(self, query_size: int, key_size: int, **_: object):
        super().__init__()
        if query_size != key_size:
            raise ValueError(f"the dot score needs query_size == key_size, got {query_size} and {key_size}")

    def prepare(self, k: Tensor) -> Tensor:
        """What of the keys does not depend on the query (computed once per source). Here the keys."""
        return k

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        return torch.bmm(q, k.transpose(1, 2))  # (B, Tq, Q) x (B, K, S) -> (B, Tq, S)


class ScaledDotScore(DotScore):
    r"""Scaled dot score :math:`e_{ts} = q_t^\top k_s / \sqrt{d_k}` (Vaswani et al. 2017, eq. 1), d_k = K."""

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        return torch.bmm(q, k.transpose(1, 2)) / math.sqrt(k.shape[-1])  # (B, Tq, S)


class GeneralScore(nn.Module):
    r"""General (bilinear) score :math:`e_{ts} = q_t^\top W_a k_s` (Luong et al. 2015, eq. 8); ``weight`` is
    :math:`W_a` (Q, K)."""

    def __init__(self, query_size: int, key_size: int, **_: object):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(query_size, key_size))
        nn.init.uniform_(self.weight, -1 / math.sqrt(key_size), 1 / math.sqrt(key_size))

    def prepare(self, k: Tensor) -> Tensor:
        return torch.matmul(k, self.weight.t())  # (B, S, K) -> (B, S, Q): W_a k_s

    def forward(self, q: Tensor, kw: Tensor) -> Tensor:
        return torch.bmm(q, kw.transpose(1, 2))  # (B, Tq, Q) x (B, Q, S) -> (B, Tq, S)


class AdditiveScore(nn.Module):
    r"""Additive / concat score :math:`e_{ts} = v_a^\top \tanh(W_q q_t + W_k k_s)` (Bahdanau et al. 2015,
    appendix A.1.2; Luong et al. 2015's *concat* :math:`v_a^\top \tanh(W_a[q_t; k_s])` is the same with
    :math:`W_a = [W_q\ W_k]`). ``query.weight`` is :math:`W_q` (A, Q) with the bias, ``key.weight`` is
    :math:`W_k` (A, K), ``v`` is :math:`v_a` (A,); A = ``hidden_size`` (default K)."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int | None = None, **_: object):
        super().__init__()
        A = hidden_size or key_size
        self.query = nn.Linear(query_size, A)
        self.key = nn.Linear(key_size, A, bias=False)
        self.v = nn.Parameter(torch.empty(A))
        nn.init.uniform_(self.v, -1 / math.sqrt(A), 1 / math.sqrt(A))

    def prepare(self, k: Tensor) -> Tensor:
        return self.key(k)  # (B, S, K) -> (B, S, A)

    def forward(self, q: Tensor, wk: Tensor) -> Tensor:
        wq = self.query(q).unsqueeze(2)  # (B, Tq, Q) -> (B, Tq, 1, A)
        wk = wk.unsqueeze(1)  # (B, S, A) -> (B, 1, S, A)
        return torch.tanh(wq + wk).matmul(self.v)  # (B, Tq, S, A) -> (B, Tq, S)


class LocationScore(nn.Module):
    r"""Location-based score :math:`e_t = W_a q_t` (Luong et al. 2015, eq. 8): the weights depend on the query
    only, one output per source position; ``proj.weight`` is :math:`W_a` (S_max, Q). Sources longer than
    ``max_length`` are refused; shorter ones use the first S outputs."""

    def __init__(self, query_size: int, key_size: int, max_length: int = 100, **_: object):
        super().__init__()
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"the location score needs max_length >= 1, got {max_length!r}")
        self.max_length = max_length
        self.proj = nn.Linear(query_size, max_length)

    def prepare(self, k: Tensor) -> Tensor:
        return k

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        S = k.shape[1]
        if S > self.max_length:
            raise ValueError(
                f"the location score was built for sources of at most {self.max_length} positions, got {S}"
            )
        return self.proj(q)[..., :S]  # (B, Tq, Q) -> (B, Tq, S)


class CosineScore(nn.Module):
    r"""Content-based addressing with key strength (Graves et al. 2014, Neural Turing Machines, eq. 5-6):
    :math:`e_{ts} = \beta_t \cos(q'_t, k_s)`, :math:`\beta_t = \mathrm{softplus}(w_\beta^\top q_t + b_\beta)
    \ge 0` emitted from the query (the NTM controller emits :math:`\beta`; softplus keeps it positive, as in the
    NTM). :math:`q'_t = W_q q_t` (``query``, present only when Q != K), else :math:`q'_t = q_t`. ``beta`` is the
    Linear(Q, 1) producing :math:`\beta`."""

    def __init__(self, query_size: int, key_size: int, eps: float = 1e-8, **_: object):
        super().__init__()
        self.query = nn.Linear(query_size, key_size, bias=False) if query_size != key_size else None
        self.beta = nn.Linear(query_size, 1)
        self.eps = eps

    def prepare(self, k: Tensor) -> Tensor:
        return k / k.norm(dim=-1, keepdim=True).clamp_min(self.eps)  # (B, S, K), unit rows

    def forward(self, q: Tensor, kn: Tensor) -> Tensor:
        beta = F.softplus(self.beta(q))  # (B, Tq, Q) -> (B, Tq, 1)
        qp = q if self.query is None else self.query(q)  # (B, Tq, K)
        qn = qp / qp.norm(dim=-1, keepdim=True).clamp_min(self.eps)
        return beta * torch.bmm(qn, kn.transpose(1, 2))  # (B, Tq, S)


SCORES: dict[str, type[nn.Module]] = {
    "cosine": CosineScore,
    "additive": AdditiveScore,
    "concat": AdditiveScore,
    "location": LocationScore,
    "general": GeneralScore,
    "dot": DotScore,
    "scaled_dot": ScaledDotScore,
}


class Attention(nn.Module):
    r"""Soft attention of queries over keys and values, with a score chosen by name.

    .. math::
        e_{ts} = \mathrm{score}(q_t, k_s), \quad
        \alpha_{ts} = \mathrm{softmax}_{s \in \mathcal{M}}(e_{ts}), \quad c_t = \sum_s \alpha_{ts} v_s

    Masked (padded) source positions get exactly zero weight. See the module docstring for the scores.

    Args:
        score: a name in :data:`SCORES` (``cosine``, ``additive``/``concat``, ``location``, ``general``,
            ``dot``, ``scaled_dot``).
        query_size: Q, features of a query.
        key_size: K, features of a key.
        hidden_size: A, width of the additive score's hidden layer (default K).
        max_length: S_max, the longest source the location score accepts (default 100).

    Inputs: ``query``, ``keys``, ``values`` (optional, default ``keys``), ``mask`` or ``lengths`` (optional)
        - mask: True at real source positions; every row needs at least one. lengths: real positions per row.

    Outputs: ``context``, ``weights``

    Shape:
        B batch, Tq queries, S source positions, Q query features, K key features, V_d value features.

        - query: (B, Q) or (B, Tq, Q); keys: (B, S, K); values: (B, S, V_d); mask: (B, S); lengths: (B,).
        - context: (B, V_d) or (B, Tq, V_d); weights: (B, S) or (B, Tq, S).

    Example::

        >>> attn = Attention("general", query_size=8, key_size=6)
        >>> c, a = attn(torch.randn(2, 8), torch.randn(2, 5, 6), lengths=torch.tensor([5, 3]))
        >>> c.shape, a[1, 3:].tolist()
        (torch.Size([2, 6]), [0.0, 0.0])
    """

    def __init__(
        self,
        score: str = "additive",
        query_size: int = 0,
        key_size: int = 0,
        hidden_size: int | None = None,
        max_length: int = 100,
    ):
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"attention score must be one of {sorted(SCORES)}, got {score!r}")
        for name, v in (("query_size", query_size), ("key_size", key_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Attention {name} must be a positive integer, got {v!r}")
        self.score_name, self.query_size, self.key_size = score, query_size, key_size
        self.score = SCORES[score](query_size, key_size, hidden_size=hidden_size, max_length=max_length)

    def extra_repr(self) -> str:
        return f"score={self.score_name!r}, query_size={self.query_size}, key_size={self.key_size}"

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        values = keys if values is None else values
        if keys.dim() != 3 or keys.shape[-1] != self.key_size:
            raise ValueError(f"Attention expected keys (B, S, K={self.key_size}), got {tuple(keys.shape)}")
        B, S = keys.shape[0], keys.shape[1]
        single = query.dim() == 2
        if query.dim() not in (2, 3) or query.shape[0] != B or query.shape[-1] != self.query_size:
            raise ValueError(
                f"Attention expected a query (B={B}, Q={self.query_size}) or (B, Tq, Q), got {tuple(query.shape)}"
            )
        if values.dim() != 3 or values.shape[:2] != keys.shape[:2]:
            raise ValueError(f"Attention expected values (B={B}, S={S}, V_d), got {tuple(values.shape)}")
        q = query.unsqueeze(1) if single else query  # (B, Tq, Q)
        mask = _resolve_mask(mask, lengths, B, S, keys.device)
        c, a = self.attend(q, self.prepare(keys), values, mask)
        return (c.squeeze(1), a.squeeze(1)) if single else (c, a)

    def prepare(self, keys: Tensor) -> Tensor:
        """The query-independent part of the score (e.g. :math:`W_k k_s`), to compute once per source when many
        queries (decoder steps) attend to the same keys; pass it to :meth:`attend`."""
        return self.score.prepare(keys)

    def attend(self, q: Tensor, prepared: Tensor, values: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """The unchecked core of :meth:`forward`: q (B, Tq, Q), prepared keys, values (B, S, V_d), boolean mask
        (B, S) or None -> context (B, Tq, V_d), weights (B, Tq, S)."""
        e = self.score(q, prepared)  # (B, Tq, S)
        if mask is not None:
            e = e.masked_fill(~mask.unsqueeze(1), float("-inf"))
        a = torch.softmax(e, dim=-1)  # (B, Tq, S); exp(-inf) = 0 exactly at masked positions
        return torch.bmm(a, values), a  # (B, Tq, S) x (B, S, V_d) -> (B, Tq, V_d)


def _resolve_mask(mask: Tensor | None, lengths: Tensor | None, B: int, S: int, device: torch.device) -> Tensor | None:
    if mask is not None and lengths is not None:
        raise ValueError("Attention takes a mask or lengths, not both")
    if lengths is not None:
        lengths = torch.as_tensor(lengths, device=device)
        if lengths.shape != (B,) or bool((lengths < 1).any()) or bool((lengths > S).any()):
            raise ValueError(f"Attention expected lengths (B={B},) in 1..{S}, got {lengths.tolist()}")
        return torch.arange(S, device=device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)
    if mask is None:
        return None
    if tuple(mask.shape) != (B, S):
        raise ValueError(f"Attention expected a mask (B={B}, S={S}), got {tuple(mask.shape)}")
    mask = mask.bool()
    if not bool(mask.any(dim=1).all()):
        raise ValueError("Attention mask has a row with no real position; every row needs at least one")
    return mask
