"""CRF: log-partition and Viterbi equal brute-force enumeration (with lengths and constraints), gradcheck,
padding changes nothing, errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from unrolled.layers.crf import CRF


def _crf(K: int, seed: int = 0, **kwargs) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(K, **kwargs).double()
    with torch.no_grad():  # larger than the default init, so that paths differ clearly
        for p in crf.parameters():
            p.normal_()
    return crf


@torch.no_grad()
def _path_score(crf: CRF, e: torch.Tensor, y: tuple[int, ...]) -> float:
    """s(y) by the formula, on one unpadded sentence e (n, K)."""
    A = crf.transitions + crf.transition_penalty
    s = float(crf.start_transitions[y[0]] + crf.start_penalty[y[0]])
    s += sum(float(e[t, y[t]]) for t in range(len(y)))
    s += sum(float(A[y[t - 1], y[t]]) for t in range(1, len(y)))
    return s + float(crf.end_transitions[y[-1]] + crf.end_penalty[y[-1]])


def _brute(crf: CRF, e: torch.Tensor, allowed=None) -> tuple[float, tuple[int, ...], float]:
    """log Z, best path and its score by enumerating every tag sequence (only allowed ones, if given)."""
    n, K = e.shape
    paths = [y for y in itertools.product(range(K), repeat=n) if allowed is None or allowed(y)]
    scores = [_path_score(crf, e, y) for y in paths]
    best = max(range(len(paths)), key=scores.__getitem__)
    return math.log(sum(math.exp(s) for s in scores)), paths[best], scores[best]


def test_log_partition_and_viterbi_equal_brute_force_with_lengths() -> None:
    crf = _crf(3)
    torch.manual_seed(1)
    e = torch.randn(4, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 3, 1, 4])
    logz = crf.log_partition(e, lengths).detach()
    paths, scores = crf.viterbi(e, lengths)
    for b in range(4):
        n = int(lengths[b])
        want_z, want_path, want_score = _brute(crf, e[b, :n])
        assert float(logz[b]) == pytest.approx(want_z, abs=1e-10)
        assert tuple(paths[b, :n].tolist()) == want_path
        assert paths[b, n:].tolist() == [0] * (5 - n)
        assert float(scores[b]) == pytest.approx(want_score, abs=1e-10)
        assert crf.score(e[b : b + 1, :n], paths[b : b + 1, :n]).item() == pytest.approx(want_score, abs=1e-10)


def test_constraints_equal_enumeration_over_allowed_paths() -> None:
    # tags O, B, I: I only after B or I; no start with I; no end with B (a toy rule)
    allowed = [[True, True, False], [True, True, True], [True, True, True]]
    start, end = [True, True, False], [True, False, True]
    crf = _crf(3, seed=2, allowed=allowed, allowed_start=start, allowed_end=end)
    with torch.no_grad():
        crf.transitions[0, 2] = 5.0  # would be chosen, if it were allowed
    e = torch.randn(3, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    lengths = torch.tensor([4, 2, 3])

    def ok(y):
        return start[y[0]] and end[y[-1]] and all(allowed[a][b] for a, b in itertools.pairwise(y))

    logz = crf.log_partition(e, lengths).detach()
    paths, scores = crf.viterbi(e, lengths)
    for b in range(3):
        n = int(lengths[b])
        want_z, want_path, want_score = _brute(crf, e[b, :n], ok)
        assert float(logz[b]) == pytest.approx(want_z, abs=1e-9)
        assert tuple(paths[b, :n].tolist()) == want_path and ok(want_path)
        assert float(scores[b]) == pytest.approx(want_score, abs=1e-9)


def test_nll_is_minus_log_probability_and_probabilities_sum_to_one() -> None:
    crf = _crf(2, seed=4)
    e = torch.randn(1, 3, 2, dtype=torch.float64)
    total = 0.0
    for y in itertools.product(range(2), repeat=3):
        nll = crf(e, torch.tensor([y]))
        total += math.exp(-nll.item())
    assert total == pytest.approx(1.0, abs=1e-12)


def test_padding_changes_nothing() -> None:
    crf = _crf(4, seed=5)
    e = torch.randn(2, 3, 4, dtype=torch.float64)
    tags = torch.tensor([[1, 2, 3], [0, 3, 1]])
    padded_e = torch.cat([e, torch.full((2, 2, 4), 123.0, dtype=torch.float64)], 1)  # huge scores, ignored
    padded_tags = torch.cat([tags, torch.full((2, 2), -7)], 1)  # invalid indices where padding is
    lengths = torch.tensor([3, 3])
    mask = torch.tensor([[1, 1, 1, 0, 0]] * 2, dtype=torch.bool)
    for kw in ({"lengths": lengths}, {"mask": mask}):
        assert torch.allclose(crf(padded_e, padded_tags, reduction="none", **kw), crf(e, tags, reduction="none"))
        assert torch.equal(crf.viterbi(padded_e, **kw)[0][:, :3], crf.viterbi(e)[0])


def test_reductions() -> None:
    crf = _crf(3, seed=6)
    e = torch.randn(2, 4, 3, dtype=torch.float64)
    tags = torch.randint(0, 3, (2, 4))
    lengths = torch.tensor([4, 2])
    per = crf(e, tags, lengths, reduction="none")
    assert torch.allclose(crf(e, tags, lengths), per.sum())
    assert torch.allclose(crf(e, tags, lengths, reduction="mean"), per.mean())
    assert torch.allclose(crf(e, tags, lengths, reduction="token_mean"), per.sum() / 6)
    assert bool((per > 0).all())


def test_gradcheck_float64() -> None:
    crf = _crf(3, seed=7, allowed=[[True, False, True], [True, True, True], [False, True, True]])
    e = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    tags = torch.tensor([[0, 2, 1, 1], [1, 0, 0, 0]])
    lengths = torch.tensor([4, 3])
    params = (crf.transitions, crf.start_transitions, crf.end_transitions)

    assert torch.autograd.gradcheck(lambda e: crf(e, tags, lengths, reduction="none"), (e,))

    # parameters: through a functional call so that gradcheck perturbs them
    def g(A, s, t):
        return torch.func.functional_call(
            crf,
            {"transitions": A, "start_transitions": s, "end_transitions": t},
            (e.detach(), tags, lengths),
            {"reduction": "none"},
        )

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in params)
    assert torch.autograd.gradcheck(g, inputs)


def test_gradient_of_log_partition_is_marginal() -> None:
    # d log Z / d P[t, k] = p(y_t = k): the marginals sum to 1 over tags at every step inside the length
    crf = _crf(3, seed=8)
    e = torch.randn(1, 4, 3, dtype=torch.float64, requires_grad=True)
    crf.log_partition(e, torch.tensor([3])).sum().backward()
    assert torch.allclose(e.grad[0, :3].sum(1), torch.ones(3, dtype=torch.float64))
    assert torch.equal(e.grad[0, 3], torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.log_partition(torch.randn(2, 3)), "emissions of shape \\(B, T, K\\)"),
        (lambda c: c.log_partition(torch.randn(2, 3, 4)), "K = 3 emission scores per token, got 4"),
        (lambda c: c.log_partition(torch.randn(2, 0, 3)), "empty sequence"),
        (lambda c: c.log_partition(torch.randn(2, 3, 3), torch.tensor([3, 0])), "lengths must lie in 1..T"),
        (lambda c: c(torch.randn(2, 3, 3), torch.zeros(2, 2, dtype=torch.long)), "tags of shape \\(B, T\\)"),
        (lambda c: c(torch.randn(1, 2, 3), torch.tensor([[0, 3]])), "tags in \\[0, 3\\)"),
        (lambda c: c(torch.randn(1, 2, 3), torch.tensor([[0, 1]]), reduction="avg"), "reduction in"),
        (lambda c: CRF(0), "num_tags to be an int >= 1"),
        (lambda c: CRF(2, allowed=[[True, False]]), "allowed to be booleans of shape \\(2, 2\\)"),
        (lambda c: CRF(2, allowed_start=[1, 0]), "allowed_start to be booleans"),
    ],
)
def test_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(CRF(3))
