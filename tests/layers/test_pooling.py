"""Pooling over time: hand-computed values, padding changes nothing, bidirectional last state, errors."""

from __future__ import annotations

import pytest
import torch

from unrolled.layers.pooling import POOLINGS, AttentionPooling, LastPooling, make_pooling
from unrolled.layers.recurrent import Recurrent

H = torch.tensor([[[1.0, -2.0], [3.0, -4.0], [5.0, -6.0]], [[-1.0, -7.0], [9.0, 9.0], [9.0, 9.0]]])  # (2, 3, 2)
LENGTHS = torch.tensor([3, 1])


def test_hand_computed_values():
    assert make_pooling("last", 2)(H, LENGTHS).tolist() == [[5.0, -6.0], [-1.0, -7.0]]
    assert make_pooling("mean", 2)(H, LENGTHS).tolist() == [[3.0, -4.0], [-1.0, -7.0]]
    assert make_pooling("max", 2)(H, LENGTHS).tolist() == [[5.0, -2.0], [-1.0, -7.0]]  # -7, not padding's 9
    assert make_pooling("last", 2)(H).tolist() == [[5.0, -6.0], [9.0, 9.0]]  # no lengths: every row is T long


def test_bidirectional_last_takes_forward_end_and_reverse_start():
    pool = make_pooling("last", 2, directions=2)  # feature 0 forward, feature 1 reverse
    assert pool(H, LENGTHS).tolist() == [[5.0, -2.0], [-1.0, -7.0]]


def test_bidirectional_last_equals_final_states_of_recurrent():
    torch.manual_seed(0)
    rnn = Recurrent("gru", 3, 4, bidirectional=True)
    x, lengths = torch.randn(3, 6, 3), torch.tensor([6, 4, 1])
    y, state = rnn(x, lengths=lengths)
    pooled = LastPooling(8, 2)(y, lengths)
    assert torch.allclose(pooled, torch.cat([state[0], state[1]], dim=-1), atol=1e-6)


def test_attention_by_hand():
    torch.manual_seed(0)
    pool = AttentionPooling(2, attention_size=3)
    h = H[:1]
    u = torch.tanh(h @ pool.proj.weight.T + pool.proj.bias) @ pool.query  # (1, 3)
    alpha = torch.softmax(u, dim=1)
    assert torch.allclose(pool.weights(h), alpha)
    assert torch.allclose(pool(h), (alpha.unsqueeze(-1) * h).sum(1))
    w = pool.weights(H, LENGTHS)
    assert w[1].tolist() == [1.0, 0.0, 0.0] and torch.allclose(w.sum(1), torch.ones(2))


@pytest.mark.parametrize("name", sorted(POOLINGS))
@pytest.mark.parametrize("directions", [1, 2])
def test_padding_changes_nothing(name, directions):
    torch.manual_seed(1)
    pool = make_pooling(name, 4, directions)
    seqs = [torch.randn(5, 4), torch.randn(2, 4), torch.randn(1, 4)]
    padded = torch.full((3, 7, 4), float("nan"))  # NaN padding must not leak
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    out = pool(padded, torch.tensor([5, 2, 1]))
    for i, s in enumerate(seqs):
        assert torch.allclose(out[i], pool(s.unsqueeze(0))[0], atol=1e-6), (name, i)


def test_gradients_do_not_reach_padding():
    h = H.clone().requires_grad_(True)
    for name in ("last", "mean", "max"):
        make_pooling(name, 2)(h, LENGTHS).sum().backward()
    assert h.grad[1, 1:].abs().sum() == 0 and h.grad[0].abs().sum() > 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_pooling("median", 2), "unknown pooling 'median'"),
        (lambda: make_pooling("mean", 0), "positive integer"),
        (lambda: make_pooling("mean", 3, directions=2), "even feature count"),
        (lambda: make_pooling("mean", 2, directions=3), "directions must be 1 or 2"),
        (lambda: make_pooling("mean", 2, attention_size=4), "attention. pooling only"),
        (lambda: make_pooling("attention", 2, attention_size=0), "attention_size"),
        (lambda: make_pooling("mean", 2)(H[0]), r"\(B, T, F\)"),
        (lambda: make_pooling("mean", 2)(H, torch.tensor([3, 4])), "lengths in 1..T"),
        (lambda: make_pooling("mean", 2)(H, torch.tensor([0, 1])), "lengths in 1..T"),
        (lambda: make_pooling("mean", 2)(H, torch.tensor([3])), r"shape \(B,\)"),
        (lambda: make_pooling("mean", 2)(H[:, :0]), "T = 0"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
