"""Beam search against greedy decoding and exhaustive search on a tiny vocabulary; n-best order; length penalty."""

import itertools

import pytest
import torch

from unrolled.decode.beam import beam_search, greedy_decode, length_penalty, sample_decode

BOS, EOS, V = 0, 1, 4


def markov_step(table):
    """A first-order model: the next-token log-probs depend on the last token only (state counts nothing)."""

    def step(tokens, state):
        return table[tokens], {"n": state["n"] + 1}

    return step


def tables(seed, batch=1):
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(torch.randn(V, V, generator=g) * 2, dim=-1)


def exhaustive(table, max_len, alpha):
    """Every sequence ending in <eos> within max_len tokens, or cut at max_len, scored as the beam search does."""
    best = []
    for n in range(1, max_len + 1):
        for body in itertools.product([t for t in range(V) if t != EOS], repeat=n - 1):
            for last in range(V):
                seq = list(body) + [last]
                if n < max_len and last != EOS:
                    continue
                lp, prev = 0.0, BOS
                for tok in seq:
                    lp += float(table[prev, tok])
                    prev = tok
                finished = last == EOS
                tokens = seq[:-1] if finished else seq
                best.append((lp / length_penalty(n, alpha), tokens))
    return sorted(best, key=lambda x: -x[0])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_equals_exhaustive_search(seed, alpha):
    table = tables(seed)
    max_len = 4
    state = {"n": torch.zeros(1)}
    hyps = beam_search(markov_step(table), state, BOS, EOS, batch_size=1, beam_size=V**max_len, max_len=max_len,
                       length_penalty_alpha=alpha, n_best=5)[0]  # fmt: skip
    truth = exhaustive(table, max_len, alpha)[:5]
    assert [h.tokens for h in hyps] == [t for _, t in truth]
    assert [h.score for h in hyps] == pytest.approx([s for s, _ in truth], abs=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_beam_one_equals_greedy_and_batches_are_independent(seed):
    torch.manual_seed(seed)
    W = torch.randn(3, V, V)  # one transition table per batch row

    def step(tokens, state):
        return W[state["row"], tokens], state

    state = {"row": torch.arange(3)}
    beams = beam_search(step, state, BOS, EOS, batch_size=3, beam_size=1, max_len=6)
    greedy = greedy_decode(step, state, BOS, EOS, batch_size=3, max_len=6)
    assert [b[0].tokens for b in beams] == greedy
    wide = beam_search(step, state, BOS, EOS, batch_size=3, beam_size=4, max_len=6, n_best=3)
    for r in range(3):
        alone = beam_search(step, {"row": torch.tensor([r])}, BOS, EOS, batch_size=1, beam_size=4, max_len=6, n_best=3)
        assert [h.tokens for h in wide[r]] == [h.tokens for h in alone[0]]


def test_nbest_in_score_order_with_log_probs():
    table = tables(7)
    hyps = beam_search(markov_step(table), {"n": torch.zeros(1)}, BOS, EOS, 1, beam_size=5, max_len=5, n_best=5)[0]
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True) and len(hyps) == 5
    for h in hyps:
        seq, prev, lp = h.tokens + ([EOS] if h.finished else []), BOS, 0.0
        for tok in seq:
            lp += float(table[prev, tok])
            prev = tok
        assert h.log_prob == pytest.approx(lp, abs=1e-5)


def test_sampling_is_seeded():
    table = tables(3)
    a = sample_decode(markov_step(table), {"n": torch.zeros(2)}, BOS, EOS, 2, max_len=8, seed=5)
    b = sample_decode(markov_step(table), {"n": torch.zeros(2)}, BOS, EOS, 2, max_len=8, seed=5)
    assert a == b and all(EOS not in row for row in a)


def test_errors():
    step = markov_step(tables(0))
    with pytest.raises(ValueError, match="n_best must be <= beam_size"):
        beam_search(step, None, BOS, EOS, 1, beam_size=2, n_best=3)
    with pytest.raises(ValueError, match="beam_size must be an integer"):
        beam_search(step, None, BOS, EOS, 1, beam_size=0)
    with pytest.raises(ValueError, match="alpha"):
        beam_search(step, None, BOS, EOS, 1, length_penalty_alpha=-1.0)
