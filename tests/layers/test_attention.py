"""Attention scores against hand computations; masks; weights summing to one; one-line errors."""

import math

import pytest
import torch

from unrolled.layers.attention import SCORES, Attention

Q = torch.tensor([[1.0, 2.0]])  # (B=1, Q=2)
K = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # (B=1, S=3, K=2)
Vv = torch.tensor([[[1.0], [10.0], [100.0]]])  # (B=1, S=3, 1)


def softmax(e):
    m = max(e)
    ex = [math.exp(x - m) for x in e]
    return [x / sum(ex) for x in ex]


def check(attn, expected_scores):
    c, a = attn(Q, K, Vv)
    w = softmax(expected_scores)
    assert a[0].tolist() == pytest.approx(w, rel=1e-5)
    assert c[0, 0].item() == pytest.approx(w[0] * 1 + w[1] * 10 + w[2] * 100, rel=1e-5)


def test_dot():
    check(Attention("dot", 2, 2), [1.0, 2.0, 3.0])


def test_scaled_dot():
    check(Attention("scaled_dot", 2, 2), [1 / math.sqrt(2), 2 / math.sqrt(2), 3 / math.sqrt(2)])


def test_general():
    attn = Attention("general", 2, 2)
    with torch.no_grad():
        attn.score.weight.copy_(torch.tensor([[0.5, -1.0], [2.0, 0.0]]))  # W_a
    # q^T W_a k: q^T W_a = [1*0.5 + 2*2, 1*-1 + 0] = [4.5, -1]
    check(attn, [4.5, -1.0, 3.5])


def test_additive():
    attn = Attention("additive", 2, 2, hidden_size=1)
    with torch.no_grad():
        attn.score.query.weight.copy_(torch.tensor([[0.1, 0.2]]))
        attn.score.query.bias.fill_(0.3)
        attn.score.key.weight.copy_(torch.tensor([[1.0, -1.0]]))
        attn.score.v.fill_(2.0)
    wq = 0.1 * 1 + 0.2 * 2 + 0.3  # 0.8
    check(attn, [2 * math.tanh(wq + 1), 2 * math.tanh(wq - 1), 2 * math.tanh(wq + 0)])


def test_location_uses_the_query_only():
    attn = Attention("location", 2, 2, max_length=4)
    with torch.no_grad():
        attn.score.proj.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, 9.0]]))
        attn.score.proj.bias.copy_(torch.tensor([0.5, 0.0, 0.0, 0.0]))
    check(attn, [1.5, 2.0, 3.0])  # the first S=3 outputs of W_a q + b
    with pytest.raises(ValueError, match="at most 4 positions"):
        attn(Q, torch.zeros(1, 5, 2))


def test_cosine_with_key_strength():
    attn = Attention("cosine", 2, 2)
    with torch.no_grad():
        attn.score.beta.weight.copy_(torch.tensor([[1.0, 0.0]]))
        attn.score.beta.bias.fill_(0.0)
    beta = math.log1p(math.exp(1.0))  # softplus(1)
    n = math.sqrt(5)
    check(attn, [beta * 1 / n, beta * 2 / n, beta * 3 / (n * math.sqrt(2))])


@pytest.mark.parametrize("score", sorted(SCORES))
def test_masked_positions_get_exactly_zero_and_rows_sum_to_one(score):
    torch.manual_seed(0)
    attn = Attention(score, 4, 4)
    q, k = torch.randn(3, 2, 4), torch.randn(3, 5, 4)
    c, a = attn(q, k, lengths=torch.tensor([5, 2, 1]))
    assert a.shape == (3, 2, 5)
    assert torch.equal(a[1, :, 2:], torch.zeros(2, 3)) and torch.equal(a[2, :, 1:], torch.zeros(2, 4))
    assert torch.allclose(a.sum(-1), torch.ones(3, 2))
    # a padded source gives the same context as the unpadded one
    c1, a1 = attn(q[1:2], k[1:2, :2])
    assert torch.allclose(c[1], c1[0], atol=1e-6) and torch.allclose(a[1, :, :2], a1[0], atol=1e-6)
    mask = torch.arange(5).unsqueeze(0) < torch.tensor([[5], [2], [1]])
    c2, a2 = attn(q, k, mask=mask)
    assert torch.equal(a2, a)


def test_gradcheck_general_float64():
    torch.manual_seed(0)
    attn = Attention("additive", 3, 2).double()
    q = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k: attn(q, k, lengths=torch.tensor([4, 2]))[0], (q, k))


def test_errors():
    with pytest.raises(ValueError, match="score must be one of"):
        Attention("bogus", 2, 2)
    with pytest.raises(ValueError, match="query_size == key_size"):
        Attention("dot", 2, 3)
    attn = Attention("dot", 2, 2)
    with pytest.raises(ValueError, match="expected keys"):
        attn(Q, torch.zeros(1, 3))
    with pytest.raises(ValueError, match="expected a query"):
        attn(torch.zeros(2, 2), K)
    with pytest.raises(ValueError, match="no real position"):
        attn(Q, K, mask=torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="lengths"):
        attn(Q, K, lengths=torch.tensor([4]))
