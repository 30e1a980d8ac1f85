import math

import numpy as np
import pytest

from unrolled.models.ngram import SMOOTHINGS, NGramLM

CORPUS = [[0, 1, 0], [1, 0]]


def random_corpus(n_seq=40, length=30, V=6, seed=0):
    rng = np.random.default_rng(seed)
    # a skewed source so counts-of-counts n1..n4 are all populated
    p = np.array([0.4, 0.25, 0.15, 0.1, 0.07, 0.03])[:V]
    return [rng.choice(V, size=length, p=p / p.sum()).tolist() for _ in range(n_seq)]


# ---------------------------------------------------------------------------------------------------------
# an independent, brute-force interpolated Kneser-Ney written straight from Chen & Goodman (1998) eq. 17,
# with KenLM's rule that lower-order n-grams starting with <s> keep raw counts.
def reference_kn(corpus, order, V, w, context, discount=0.75, D=None):
    BOS = "<s>"
    grams = {m: [] for m in range(1, order + 1)}
    for seq in corpus:
        padded = [BOS] * (order - 1) + list(seq)
        for i in range(order - 1, len(padded)):
            for m in range(1, order + 1):
                grams[m].append(tuple(padded[i - m + 1 : i + 1]))

    def a(g):
        m = len(g)
        if m == order or g[0] == BOS:
            return sum(1 for x in grams[m] if x == g)
        return len({x[0] for x in grams[m + 1] if x[1:] == g})

    def disc(m, c):
        return discount if D is None else D[m - 1][min(c, 3) - 1]

    ctx = ([BOS] * (order - 1) + list(context))[len(context) :] if order > 1 else []

    def p(m, word):
        if m == 0:
            return 1.0 / V
        h = tuple(ctx[len(ctx) - (m - 1) :]) if m > 1 else ()
        followers = {x[-1] for x in grams[m] if x[:-1] == h}
        if not followers:
            return p(m - 1, word)
        counts = {u: a(h + (u,)) for u in followers}
        total = sum(counts.values())
        gamma = sum(disc(m, c) for c in counts.values()) / total
        own = max(counts.get(word, 0) - disc(m, counts.get(word, 0)), 0) / total if word in counts else 0.0
        return own + gamma * p(m - 1, word)

    return p(order, w)


# ---------------------------------------------------------------------------------------------------------
def test_add_k_bigram_hand_computed():
    lm = NGramLM(2, vocab_size=3, smoothing="add_k", k=0.5).fit(CORPUS)
    # counts after token 1: {0: 2}; after <s>: {0: 1, 1: 1}; token 2 never seen as a context
    assert lm.prob(0, [1]) == pytest.approx(2.5 / 3.5, abs=1e-15)
    assert lm.prob(1, [1]) == pytest.approx(0.5 / 3.5, abs=1e-15)
    assert lm.prob(1, []) == pytest.approx(1.5 / 3.5, abs=1e-15)
    assert lm.prob(2, []) == pytest.approx(0.5 / 3.5, abs=1e-15)
    assert lm.prob(1, [2]) == pytest.approx(1 / 3, abs=1e-15)
    assert lm.logprob(0, [0, 1]) == pytest.approx(math.log(2.5 / 3.5), abs=1e-15)  # only the last token matters


def test_kneser_ney_bigram_hand_computed():
    lm = NGramLM(2, vocab_size=3, discount=0.75).fit(CORPUS)
    # continuation counts: token 0 follows {<s>, 1}, token 1 follows {0, <s>}, token 2 nothing -> 2, 2, 0 of 4
    # P1(0) = (2 - .75)/4 + (.75 * 2 / 4) / 3 = 0.4375 ; P1(2) = 0.375 / 3 = 0.125
    np.testing.assert_allclose(lm.prob_distribution([2]), [0.4375, 0.4375, 0.125], rtol=0, atol=1e-15)
    # after 1: raw counts {0: 2}; gamma = .75 * 1 / 2
    assert lm.prob(0, [1]) == pytest.approx(1.25 / 2 + 0.375 * 0.4375, abs=1e-15)
    assert lm.prob(1, [1]) == pytest.approx(0.375 * 0.4375, abs=1e-15)
    assert lm.prob(2, [1]) == pytest.approx(0.375 * 0.125, abs=1e-15)
    # after <s>: raw counts {0: 1, 1: 1}; gamma = .75 * 2 / 2
    assert lm.prob(0, []) == pytest.approx(0.25 / 2 + 0.75 * 0.4375, abs=1e-15)
    assert lm.discounts == [(0.75, 0.75, 0.75)] * 2


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("discount", [0.75, 0.3])
def test_kneser_ney_matches_brute_force_reference(order, discount):
    corpus = random_corpus(n_seq=6, length=8, V=5, seed=order)
    lm = NGramLM(order, vocab_size=6, discount=discount).fit(corpus)
    for context in ([], [0], [3, 1], [4, 4, 2], [5, 5]):
        for w in range(6):
            expected = reference_kn(corpus, order, 6, w, context, discount=discount)
            assert lm.prob(w, context) == pytest.approx(expected, rel=1e-12)


def test_modified_kneser_ney_discounts_from_counts_of_counts():
    # unigram counts: four tokens once, two twice, one three times, one four times -> n1..n4 = 4, 2, 1, 1
    seq = [0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 7]
    lm = NGramLM(1, vocab_size=9, modified=True).fit([seq])
    y = 4 / (4 + 2 * 2)
    d1, d2, d3 = 1 - 2 * y * 2 / 4, 2 - 3 * y * 1 / 2, 3 - 4 * y * 1 / 1
    assert lm.discounts == [pytest.approx((d1, d2, d3), abs=1e-15)]
    assert (d1, d2, d3) == (0.5, 1.25, 1.0)
    gamma = (4 * d1 + 2 * d2 + 2 * d3) / 15
    assert lm.prob(0) == pytest.approx((1 - d1) / 15 + gamma / 9, abs=1e-15)
    assert lm.prob(7) == pytest.approx((4 - d3) / 15 + gamma / 9, abs=1e-15)
    assert lm.prob(8) == pytest.approx(gamma / 9, abs=1e-15)


def test_modified_kneser_ney_trigram_matches_reference():
    corpus = random_corpus(n_seq=40, length=30, V=6, seed=1)
    lm = NGramLM(3, vocab_size=7, modified=True, discount_fallback=(0.5, 1.0, 1.5)).fit(corpus)
    D = lm.discounts
    # unigrams: continuation counts of 6 types leave n_r = 0 -> fallback; bigrams and trigrams: estimated
    assert D[0] == (0.5, 1.0, 1.5)
    assert len({D[1], D[2], D[0]}) == 3 and all(0 < d < r for x in D[1:] for r, d in enumerate(x, start=1))
    for context in ([], [0], [2, 5], [6, 6]):
        for w in (0, 3, 5, 6):
            expected = reference_kn(corpus, 3, 7, w, context, D=D)
            assert lm.prob(w, context) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"smoothing": "add_k", "k": 1.0},
        {"smoothing": "add_k", "k": 0.01},
        {"smoothing": "kneser_ney"},
        {"smoothing": "kneser_ney", "discount": 1.0},
        {"smoothing": "kneser_ney", "modified": True, "discount_fallback": (0.5, 1.0, 1.5)},
    ],
)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_distributions_sum_to_one_and_agree_with_prob(kwargs, order):
    corpus = random_corpus(seed=order)
    lm = NGramLM(order, vocab_size=8, unk_id=7, **kwargs).fit(corpus)
    contexts = [[], [0], [0, 1], [1, 2, 3], [5, 5, 5], [6, 6, 6], [7, 0, 7], [99, 3], [6]]  # 6, 7, 99: unseen
    for context in contexts:
        p = lm.prob_distribution(context)
        assert p.shape == (8,)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert (p > 0).all()
        np.testing.assert_allclose(p, [lm.prob(w, context) for w in range(8)], rtol=1e-12)


def test_evaluate_exact_add_k_unigram():
    corpus = [0, 0, 0, 1, 1, 2]
    lm = NGramLM(1, vocab_size=4, smoothing="add_k", k=1.0).fit(corpus)
    # P = (c + 1) / (6 + 4): 0.4, 0.3, 0.2, 0.1
    expected = -(3 * math.log(0.4) + 2 * math.log(0.3) + math.log(0.2)) / 6
    assert lm.evaluate(corpus) == pytest.approx(expected, abs=1e-14)
    assert lm.evaluate([[3]]) == pytest.approx(-math.log(0.1), abs=1e-14)
    assert lm.perplexity(corpus) == pytest.approx(math.exp(expected), abs=1e-12)


@pytest.mark.parametrize("smoothing", sorted(SMOOTHINGS))
def test_evaluate_approaches_source_entropy(smoothing):
    p = np.array([0.5, 0.25, 0.125, 0.125])
    entropy = -(p * np.log(p)).sum()  # 1.75 bits in nats
    rng = np.random.default_rng(0)
    train, test = rng.choice(4, size=20000, p=p), rng.choice(4, size=20000, p=p)
    for order in (1, 2):
        lm = NGramLM(order, vocab_size=4, smoothing=smoothing).fit(train)
        assert lm.evaluate(test) == pytest.approx(entropy, abs=0.01)
    wrong = NGramLM(1, vocab_size=4, smoothing=smoothing).fit(rng.choice(4, size=20000))  # uniform source
    assert lm.evaluate(test) - entropy < 0.01 < wrong.evaluate(test) - entropy


@pytest.mark.parametrize("smoothing", sorted(SMOOTHINGS))
def test_evaluate_equals_mean_of_logprobs_over_sequences(smoothing):
    corpus = random_corpus(seed=3)
    lm = NGramLM(3, vocab_size=6, smoothing=smoothing).fit(corpus[:30])
    held = corpus[30:]
    nll = [-lm.logprob(seq[i], seq[:i]) for seq in held for i in range(len(seq))]
    assert lm.evaluate(held) == pytest.approx(sum(nll) / len(nll), rel=1e-12)
    # a flat list of ids is one sequence; numpy arrays work the same
    assert lm.evaluate(held[0]) == pytest.approx(lm.evaluate([held[0]]), rel=1e-15)
    assert lm.evaluate(np.array(held[0])) == pytest.approx(lm.evaluate(held[0]), rel=1e-15)


def test_unknown_tokens_and_vocab():
    lm = NGramLM(2, vocab=["<unk>", "a", "b"]).fit(["abab", "ba"])  # strings: sequences of characters
    assert lm.unk_id == 0 and lm.vocab_size == 3
    assert lm.prob("b", "a") == lm.prob(2, [1])
    assert lm.prob("z", "a") == lm.prob(0, [1])  # unknown token -> <unk>
    assert lm.prob("a", "z") == lm.prob(1, [0])
    assert lm.evaluate("abzz") == pytest.approx(lm.evaluate([[1, 2, 0, 0]]), rel=1e-15)
    ids = NGramLM(2, vocab_size=3, unk_id=2).fit([[0, 1, 5, 7]])
    assert ids.prob(9, [5]) == ids.prob(2, [2])
    with pytest.raises(ValueError, match=r"expected a token id in \[0, 3\) or a token in vocab, got 7"):
        NGramLM(2, vocab_size=3).fit([[0, 7]])


def test_generate_deterministic_greedy_and_eos():
    corpus = [[0, 1, 2, 3]] * 5
    lm = NGramLM(2, vocab_size=5).fit(corpus)
    assert lm.generate(4, temperature=0) == [0, 1, 2, 3]
    assert lm.generate(10, prime=[1], temperature=0, eos_id=3) == [2, 3]
    rich = NGramLM(1, vocab_size=20, smoothing="add_k").fit([list(range(20))])
    a, b, c = (rich.generate(30, seed=s) for s in (1, 1, 2))
    assert a == b and a != c and len(a) == 30
    assert rich.generate(0) == []


def test_refit_replaces_counts():
    lm = NGramLM(1, vocab_size=2, smoothing="add_k").fit([[0, 0, 0]])
    lm.fit([[1]])
    assert lm.prob(1) == pytest.approx(2 / 3) and lm.num_tokens == 1


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"order": 0, "vocab_size": 3}, ValueError, "expected order to be an int >= 1, got 0"),
        ({"order": 2}, ValueError, r"expected vocab_size \(an int >= 1\) or a vocab, got neither"),
        ({"order": 2, "vocab_size": 0}, ValueError, "expected vocab_size to be an int >= 1, got 0"),
        ({"order": 2, "vocab_size": 3, "smoothing": "witten_bell"}, ValueError, "expected smoothing to be one of"),
        ({"order": 2, "vocab_size": 3, "k": 0}, ValueError, "expected k > 0, got 0"),
        ({"order": 2, "vocab_size": 3, "discount": 1.5}, ValueError, "expected 0 < discount <= 1, got 1.5"),
        ({"order": 2, "vocab_size": 3, "discount": 0}, ValueError, "expected 0 < discount <= 1, got 0"),
        ({"order": 2, "vocab_size": 3, "modified": 1}, TypeError, "expected modified to be a bool, got int"),
        ({"order": 2, "vocab_size": 3, "unk_id": 3}, ValueError, r"expected unk_id to be None or an int in \[0, 3\)"),
        ({"order": 2, "vocab_size": 3, "discount_fallback": (0.5, 2.5, 1)}, ValueError, "expected discount_fallback"),
        ({"order": 2, "vocab_size": 3, "discount_fallback": (0.5, 1)}, ValueError, r"0 < D_r <= r, got \(0.5, 1\)"),
        ({"order": 2, "vocab": "abc"}, TypeError, "expected vocab to be a sequence or mapping of tokens, got str"),
        ({"order": 2, "vocab": {"a": -1}}, ValueError, "expected the ids in vocab to be ints >= 0"),
        ({"order": 2, "vocab": ["a", "b"], "vocab_size": 1}, ValueError, "expected every id in vocab to be < vocab"),
    ],
)
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        NGramLM(**kwargs)


def test_usage_errors():
    lm = NGramLM(2, vocab_size=3)
    with pytest.raises(RuntimeError, match=r"expected a fitted model: call fit\(sequences\) first"):
        lm.prob(0, [1])
    lm.fit(CORPUS)
    with pytest.raises(ValueError, match="expected at least one token to evaluate, got none"):
        lm.evaluate([])
    with pytest.raises(TypeError, match="expected a sequence of tokens or of sequences, got float"):
        lm.fit(1.5)
    with pytest.raises(TypeError, match=r"expected each sequence to be an iterable of tokens, got int \(mixing"):
        lm.fit([[0, 1], 2, "x"])
    with pytest.raises(TypeError, match="expected context to be a sequence of tokens, got float"):
        lm.prob(0, 1.5)
    with pytest.raises(ValueError, match="expected max_new_tokens to be an int >= 0, got -1"):
        lm.generate(-1)
    with pytest.raises(ValueError, match="expected temperature >= 0, got -1"):
        lm.generate(3, temperature=-1)
    msg = r"modified Kneser-Ney cannot estimate its discounts at order 1: .*got \[0, 2, 0, 0\]; fit more"
    with pytest.raises(ValueError, match=msg):
        NGramLM(2, vocab_size=3, modified=True).fit(CORPUS)
    # n1..n4 = 1, 1, 1, 6: Y = 1/3, D3+ = 3 - 4 * (1/3) * 5 < 0
    with pytest.raises(ValueError, match=r"at order 1: expected positive discounts, got D1, D2, D3\+ = \(0.3333"):
        NGramLM(1, vocab_size=9, modified=True).fit([[0, 1, 1, 2, 2, 2, 3, 3, 3, 3] + [4, 5, 6, 7, 8] * 4])


def test_skip_scores_only_the_later_tokens_with_the_earlier_as_context():
    lm = NGramLM(3, vocab_size=4).fit([[0, 1, 2, 3, 1, 2, 0, 1]])
    seq = [2, 1, 3, 0]
    manual = [-math.log(lm.prob(seq[i], seq[:i])) for i in range(1, 4)]
    total, count = lm.score([seq, seq], skip=1)
    assert count == 6 and total == pytest.approx(2 * sum(manual), rel=1e-12)
    assert lm.evaluate(seq, skip=1) == pytest.approx(sum(manual) / 3, rel=1e-12)
    assert lm.score(seq) == (pytest.approx(sum(manual) - math.log(lm.prob(2, []))), 4)
    with pytest.raises(ValueError, match="expected skip to be an int >= 0, got -1"):
        lm.score(seq, skip=-1)
