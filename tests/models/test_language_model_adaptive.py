"""The recurrent LM's adaptive softmax (Grave et al. 2017): exact distributions, the targets' fast path, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from unrolled.layers.softmax_output import default_cutoffs
from unrolled.models.language_model import RNNLanguageModel, RNNLMConfig


def _model(V=23, cutoffs=(5, 12), dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    cfg = RNNLMConfig(hidden=8, embed_dim=6, layers=1, dropout=0.0, softmax="adaptive", cutoffs=cutoffs, div_value=2.0)
    return RNNLanguageModel(V, cfg).to(dtype).eval()


def _leaves(state) -> list[torch.Tensor]:
    return [state] if isinstance(state, torch.Tensor) else [t for s in state for t in _leaves(s)]


def test_log_prob_is_the_papers_factorisation_and_sums_to_one():
    V, c1, c2 = 23, 5, 12
    lm = _model(V, (c1, c2))
    ids = torch.randint(0, V, (3, 7))
    logp, _ = lm.log_prob(ids)  # (3, 7, V)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 7, dtype=torch.float64), atol=1e-12)
    # by hand from the weights: head over [0, c1) + 2 cluster entries; cluster i through its projection
    h, _ = lm.rnn(lm.embedding(ids))  # (3, 7, 8)
    d = lm.decoder
    head = torch.softmax(h @ d.head.weight.t() + d.head.bias, -1)  # (3, 7, c1 + 2)
    assert d.tail[0][0].weight.shape == (8 // 2, 8) and d.tail[1][0].weight.shape == (8 // 4, 8)
    p = torch.empty(3, 7, V, dtype=torch.float64)
    p[..., :c1] = head[..., :c1]
    for i, (a, b) in enumerate([(c1, c2), (c2, V)]):
        proj, out = d.tail[i]
        p[..., a:b] = head[..., c1 + i, None] * torch.softmax(h @ proj.weight.t() @ out.weight.t(), -1)
    assert torch.allclose(logp, p.log(), atol=1e-12)


def test_default_div_value_shrinks_each_cluster():
    torch.manual_seed(0)
    cfg = RNNLMConfig(hidden=64, embed_dim=6, layers=1, softmax="adaptive", cutoffs=(5, 12, 20))
    d = RNNLanguageModel(40, cfg).decoder
    assert [t[0].weight.shape[0] for t in d.tail] == [16, 4, 1]  # 64 // 4^i
    assert [t[1].weight.shape[0] for t in d.tail] == [7, 8, 20]
    assert d.head.weight.shape == (5 + 3, 64)


def test_loss_and_targets_path_equal_log_prob_at_the_targets():
    V = 23
    lm = _model(V)
    ids, y = torch.randint(0, V, (4, 9)), torch.randint(0, V, (4, 9))
    logp, state = lm.log_prob(ids)
    at = logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)  # (4, 9)
    fast, state2 = lm(ids, targets=y)  # (4, 9), the head plus the target's own cluster only
    assert torch.allclose(fast, at, atol=1e-12)
    loss, _ = lm.loss(ids, y)
    assert math.isclose(loss.item(), -at.mean().item(), rel_tol=1e-12)
    flat, flat2 = _leaves(state), _leaves(state2)
    assert flat and all(torch.equal(a, b) for a, b in zip(flat, flat2, strict=True))
    # forward's scores are the log-probabilities themselves; step and prime give the last position's row
    scores, _ = lm(ids)
    assert torch.allclose(scores, logp, atol=1e-12)
    last, _ = lm.prime(ids, None)
    assert torch.allclose(last, logp[:, -1], atol=1e-12)
    one, _ = lm.step(ids[:, 0], None)
    assert torch.allclose(one, logp[:, 0], atol=1e-12)


def test_targets_path_gradient_equals_the_full_distributions():
    V = 17
    lm = _model(V, (4, 9))
    ids, y = torch.randint(0, V, (2, 6)), torch.randint(0, V, (2, 6))
    lm.loss(ids, y)[0].backward()
    fast = [p.grad.clone() for p in lm.parameters()]
    lm.zero_grad()
    logp, _ = lm.log_prob(ids)
    F.nll_loss(logp.reshape(-1, V), y.reshape(-1)).backward()
    for a, p in zip(fast, lm.parameters(), strict=True):
        assert torch.allclose(a, p.grad, atol=1e-12)


def test_full_softmax_is_unchanged():
    torch.manual_seed(0)
    lm = RNNLanguageModel(11, RNNLMConfig(hidden=8, embed_dim=4, layers=1, dropout=0.0)).double().eval()
    assert set(lm.state_dict()) >= {"decoder.weight", "decoder.bias"}  # older runs load as before
    ids, y = torch.randint(0, 11, (2, 5)), torch.randint(0, 11, (2, 5))
    logits, _ = lm(ids)
    ref = F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))
    assert math.isclose(lm.loss(ids, y)[0].item(), ref.item(), rel_tol=1e-12)
    logp, _ = lm.log_prob(ids)
    assert torch.allclose(logp, torch.log_softmax(logits, -1))


def test_same_seed_same_model_and_loss():
    ids, y = torch.randint(0, 23, (2, 5)), torch.randint(0, 23, (2, 5))
    a, b, c = _model(seed=3), _model(seed=3), _model(seed=4)
    assert a.loss(ids, y)[0].item() == b.loss(ids, y)[0].item()
    assert a.loss(ids, y)[0].item() != c.loss(ids, y)[0].item()


def test_default_cutoffs():
    assert default_cutoffs(10_000) == (2000, 5000)
    assert default_cutoffs(2) == (1,) and default_cutoffs(3) == (1,)
    lm = RNNLanguageModel(50, RNNLMConfig(hidden=16, embed_dim=4, layers=1, softmax="adaptive"))
    assert lm.decoder.cutoffs == [10, 25, 50]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"softmax": "adaptive", "tie_weights": True}, "model.tie_weights cannot be used with model.softmax"),
        ({"softmax": "adaptive", "cutoffs": (6, 3)}, "model.cutoffs must be increasing positive integers"),
        ({"softmax": "adaptive", "cutoffs": (3, 3)}, "model.cutoffs must be increasing positive integers"),
        ({"softmax": "adaptive", "cutoffs": (0, 3)}, "model.cutoffs must be increasing positive integers"),
        ({"softmax": "adaptive", "cutoffs": ()}, "model.cutoffs must be increasing positive integers"),
        ({"softmax": "adaptive", "cutoffs": (True, 3)}, "model.cutoffs must be increasing positive integers"),
        ({"softmax": "adaptive", "div_value": 0.5}, "model.div_value must be a finite number >= 1"),
        ({"softmax": "adaptive", "div_value": math.inf}, "model.div_value must be a finite number >= 1"),
        ({"softmax": "hierarchical"}, "model.softmax must be one of full, adaptive"),
        ({"cutoffs": (3,)}, "model.cutoffs apply only to model.softmax = 'adaptive'"),
    ],
)
def test_config_errors_are_one_line(kwargs, message):
    with pytest.raises(ValueError) as info:
        RNNLMConfig(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_errors_found_when_built():
    with pytest.raises(ValueError, match=r"^model.cutoffs must all be below the vocabulary size 20, got \[10, 20\]$"):
        RNNLanguageModel(20, RNNLMConfig(softmax="adaptive", cutoffs=(10, 20)))
    with pytest.raises(ValueError, match="leaves the last of 3 tail clusters of a 16-wide output"):
        RNNLanguageModel(40, RNNLMConfig(hidden=16, softmax="adaptive", cutoffs=(5, 10, 20)))
    lm = _model()
    with pytest.raises(ValueError, match=r"expected targets of the ids' shape \(2, 3\), got \(2, 4\)"):
        lm(torch.zeros(2, 3, dtype=torch.long), targets=torch.zeros(2, 4, dtype=torch.long))
