r"""Batched beam search, greedy and sampling decoders for a step function (encoder-decoder or language model).

The model side is a step callable ``step(tokens (N,), state) -> (logits (N, V), state)`` and a starting
``state`` for B sequences: a tree of batch-first tensors (tuples, lists, dicts; see :mod:`unrolled.state`), which
beam search expands to N = B·K rows and reorders with ``index_select``. Never imports :mod:`unrolled.models`.

Hypotheses are scored by their log-probability :math:`\log P(Y \mid X) = \sum_t \log p(y_t \mid y_{<t}, X)`
divided by the GNMT length penalty (Wu et al. 2016, "Google's Neural Machine Translation System", eq. 14)

.. math::
    lp(Y) = \frac{(5 + |Y|)^\alpha}{(5 + 1)^\alpha}

with :math:`|Y|` counting ``<eos>`` (:math:`\alpha = 0`: no penalty). A hypothesis ends at ``<eos>`` or at
``max_len`` tokens. Search for a sequence stops once it holds ``n_best`` finished hypotheses none of which any
live one can still beat: the score of a live hypothesis only falls as it grows, so its best future normalised
score is at most :math:`\log P / lp(\text{max\_len})` (for :math:`\alpha \ge 0`). With a beam as wide as the
number of prefixes the search is exhaustive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from unrolled.decode.generate import generate
from unrolled.state import map_state

__all__ = ["Hypothesis", "beam_search", "greedy_decode", "length_penalty", "sample_decode"]

StepFn = Callable[[Tensor, Any], "tuple[Tensor, Any]"]


@dataclass(frozen=True)
class Hypothesis:
    """One decoded sequence: ``tokens`` (without ``<bos>`` and ``<eos>``), ``score`` (normalised, the ranking
    key), ``log_prob`` (:math:`\\log P`, ``<eos>`` included) and whether it ended with ``<eos>``."""

    tokens: list[int]
    score: float
    log_prob: float
    finished: bool


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ``((5 + length) / 6) ** alpha`` (Wu et al. 2016, eq. 14)."""
    return ((5.0 + length) / 6.0) ** alpha


def _expand(state: Any, k: int) -> Any:
    return map_state(lambda t: t.repeat_interleave(k, dim=0), state)  # (B, ...) -> (B*K, ...)


def _check(batch_size: int, beam_size: int, max_len: int, n_best: int, alpha: float) -> None:
    for name, v in (("batch_size", batch_size), ("beam_size", beam_size), ("max_len", max_len), ("n_best", n_best)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"beam search {name} must be an integer >= 1, got {v!r}")
    if n_best > beam_size:
        raise ValueError(f"beam search n_best must be <= beam_size={beam_size}, got {n_best}")
    if not isinstance(alpha, (int, float)) or alpha < 0:
        raise ValueError(f"beam search length_penalty alpha must be a number >= 0, got {alpha!r}")


@torch.no_grad()
def beam_search(
    step: StepFn,
    state: Any,
    bos_id: int,
    eos_id: int,
    batch_size: int,
    beam_size: int = 5,
    max_len: int = 50,
    length_penalty_alpha: float = 0.0,
    n_best: int = 1,
    device: torch.device | str | None = None,
) -> list[list[Hypothesis]]:
    r"""Batched beam search.

    Args:
        step: ``step(tokens (N,), state) -> (logits (N, V), state)``.
        state: the starting state for ``batch_size`` sequences (batch-first tensors).
        bos_id: the first input token. eos_id: the token that ends a hypothesis.
        batch_size: B. beam_size: K. max_len: the longest hypothesis, ``<eos>`` included.
        length_penalty_alpha: :math:`\alpha` of the GNMT length penalty (0: none).
        n_best: hypotheses returned per sequence (<= K).
        device: where the token tensors live (default CPU).

    Returns:
        For each of the B sequences, its ``n_best`` :class:`Hypothesis` in decreasing score order.

    Shape:
        K beam size, V vocabulary. The step sees N = B·K rows, beams of sequence b at rows b·K .. b·K + K - 1.

    Example::

        >>> table = torch.log_softmax(torch.randn(4, 4), -1)
        >>> hyps = beam_search(lambda tok, s: (table[tok], s), None, 0, 3, batch_size=1, beam_size=2, max_len=4)
        >>> len(hyps[0])
        1
    """
    _check(batch_size, beam_size, max_len, n_best, length_penalty_alpha)
    B, K = batch_size, beam_size
    dev = torch.device(device) if device is not None else torch.device("cpu")
    state = _expand(state, K)
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # one live beam at first: the others would duplicate it
    tokens = torch.full((B * K,), bos_id, dtype=torch.long, device=dev)
    seqs = torch.zeros(B, K, 0, dtype=torch.long, device=dev)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B
    bound_lp = length_penalty(max_len, length_penalty_alpha)
    rank = torch.arange(2 * K, device=dev)
    for t in range(max_len):
        logits, state = step(tokens, state)  # (B*K, V)
        logp = torch.log_softmax(logits.float(), dim=-1).to(dev)
        V = logp.shape[-1]
        cand = (scores.unsqueeze(-1) + logp.view(B, K, V)).view(B, K * V)  # (B, K*V)
        top, idx = cand.topk(min(2 * K, K * V), dim=-1)  # (B, 2K)
        beam, tok = idx // V, idx % V  # (B, 2K)
        is_eos = tok == eos_id
        lp = length_penalty(t + 1, length_penalty_alpha)
        # an <eos> among the K best candidates ends a hypothesis (fairseq's rule: so beam 1 is greedy decoding)
        for b, j in (is_eos & torch.isfinite(top)).nonzero().tolist():
            if not done[b] and j < K:
                lpb = float(top[b, j])
                finished[b].append(Hypothesis(seqs[b, beam[b, j]].tolist(), lpb / lp, lpb, True))
        # the K best candidates that do not end here continue (eos candidates sorted last)
        order = (is_eos.long() * 2 * K + rank[: top.shape[1]]).argsort(dim=-1)[:, :K]  # (B, K)
        live_score = top.gather(1, order).masked_fill(is_eos.gather(1, order), float("-inf"))  # (B, K)
        live_beam, live_tok = beam.gather(1, order), tok.gather(1, order)  # (B, K)
        seqs = torch.cat(
            [seqs.gather(1, live_beam.unsqueeze(-1).expand(-1, -1, seqs.shape[2])), live_tok.unsqueeze(-1)], 2
        )
        scores = live_score
        if t == max_len - 1:  # hypotheses cut at max_len end here, unfinished
            for b in range(B):
                if not done[b]:
                    for k in range(K):
                        s = float(scores[b, k])
                        if s != float("-inf"):
                            finished[b].append(Hypothesis(seqs[b, k].tolist(), s / lp, s, False))
            break
        best_live = scores.max(dim=1).values.tolist()  # (B,)
        for b in range(B):
            if done[b] or len(finished[b]) < n_best:
                continue
            nth = sorted((h.score for h in finished[b]), reverse=True)[n_best - 1]
            if best_live[b] == float("-inf") or nth >= best_live[b] / bound_lp:
                done[b] = True
        if all(done):
            break
        scores = scores.masked_fill(torch.tensor(done, device=dev).unsqueeze(1), float("-inf"))
        rows = (torch.arange(B, device=dev).unsqueeze(1) * K + live_beam).view(-1)  # (B*K,)
        state = map_state(lambda s, r=rows: s.index_select(0, r.to(s.device)), state)
        tokens = live_tok.reshape(-1)
    return [sorted(f, key=lambda h: -h.score)[:n_best] for f in finished]


def greedy_decode(
    step: StepFn, state: Any, bos_id: int, eos_id: int, batch_size: int, max_len: int = 50
) -> list[list[int]]:
    """The most probable token at every step; one token list per sequence, without ``<eos>``."""
    return sample_decode(step, state, bos_id, eos_id, batch_size, max_len, temperature=0.0)


def sample_decode(
    step: StepFn,
    state: Any,
    bos_id: int,
    eos_id: int,
    batch_size: int,
    max_len: int = 50,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    device: torch.device | str | None = None,
) -> list[list[int]]:
    """Draw each token from the model's distribution (through :func:`unrolled.decode.generate`: temperature,
    top-k, top-p; temperature 0 is greedy); one token list per sequence, without ``<eos>``."""
    prompt = torch.full((batch_size, 1), bos_id, dtype=torch.long, device=device)
    out = generate(
        step,
        prompt,
        max_len,
        strategy="sample",
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        eos_id=eos_id,
        seed=seed,
        state=state,
        batch=batch_size,
        device=device,
    )
    rows = []
    for row in out.tolist():
        rows.append(row[: row.index(eos_id)] if eos_id in row else row)
    return rows
