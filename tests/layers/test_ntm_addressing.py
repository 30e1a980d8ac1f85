"""NTM addressing: weights sum to 1, content addressing picks the matching row, shift and sharpening by hand,
read and write by hand."""

import math

import torch

from unrolled.layers.ntm_addressing import (
    address,
    circular_shift,
    content_addressing,
    interpolate,
    read,
    sharpen,
    write,
)

T = {"rtol": 1e-12, "atol": 1e-12}


def _rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_content_addressing_picks_the_matching_row_and_equals_hand_softmax():
    memory = _rand(0, 2, 6, 4)
    key = torch.stack([memory[0, 3] * 2.5, memory[1, 5] * 0.1])[:, None]  # (2, 1, 4): scaled copies
    beta = torch.full((2, 1, 1), 50.0, dtype=torch.float64)
    w = content_addressing(memory, key, beta)
    assert w.argmax(-1).flatten().tolist() == [3, 5]
    assert w[0, 0, 3] > 0.99
    m, k = memory[0], key[0, 0]
    cos = torch.stack([(k @ m[i]) / (k.norm() * m[i].norm()) for i in range(6)])
    w1 = content_addressing(memory[:1], key[:1], torch.full((1, 1, 1), 1.5, dtype=torch.float64))
    torch.testing.assert_close(w1[0, 0], torch.softmax(1.5 * cos, 0), rtol=1e-7, atol=1e-9)


def test_shift_equals_hand_computation():
    w = torch.tensor([[[0.1, 0.2, 0.3, 0.4, 0.0]]], dtype=torch.float64)
    s = torch.tensor([[[0.2, 0.5, 0.3]]], dtype=torch.float64)  # shift -1, 0, +1
    out = circular_shift(w, s)[0, 0]
    # out(i) = sum_j w(j) s(i - j): 0.2 w(i+1) + 0.5 w(i) + 0.3 w(i-1), indices mod 5
    want = [0.2 * w[0, 0, (i + 1) % 5] + 0.5 * w[0, 0, i] + 0.3 * w[0, 0, (i - 1) % 5] for i in range(5)]
    torch.testing.assert_close(out, torch.stack(want), **T)
    torch.testing.assert_close(out.tolist()[0], 0.2 * 0.2 + 0.5 * 0.1 + 0.3 * 0.0, **T)
    one_hot = torch.tensor([[[0.0, 1.0, 0.0, 0.0, 0.0]]], dtype=torch.float64)
    fwd = torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64)
    assert circular_shift(one_hot, fwd)[0, 0].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert circular_shift(torch.tensor([[[0.0, 0, 0, 0, 1]]]), fwd.float())[0, 0].tolist() == [1.0, 0, 0, 0, 0]


def test_sharpen_and_interpolate_equal_hand_computation():
    w = torch.tensor([[[0.5, 0.25, 0.25]]], dtype=torch.float64)
    out = sharpen(w, torch.full((1, 1, 1), 2.0, dtype=torch.float64))[0, 0]
    torch.testing.assert_close(
        out, torch.tensor([0.25, 0.0625, 0.0625], dtype=torch.float64) / 0.375, rtol=1e-10, atol=1e-11
    )
    prev = torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64)
    g = torch.full((1, 1, 1), 0.25, dtype=torch.float64)
    torch.testing.assert_close(interpolate(w, prev, g)[0, 0], torch.tensor([0.125, 0.0625, 0.8125]).double(), **T)


def test_addressed_weights_sum_to_one():
    B, R, N, M = 3, 2, 7, 4
    w_prev = torch.softmax(_rand(1, B, R, N), -1)
    w = address(
        _rand(2, B, N, M),
        w_prev,
        _rand(3, B, R, M),
        torch.rand(B, R, 1, dtype=torch.float64) * 5,
        torch.rand(B, R, 1, dtype=torch.float64),
        torch.softmax(_rand(4, B, R, 3), -1),
        1 + torch.rand(B, R, 1, dtype=torch.float64) * 3,
    )
    torch.testing.assert_close(w.sum(-1), torch.ones(B, R, dtype=torch.float64), **T)
    assert torch.all(w >= 0)


def test_read_and_write_by_hand():
    memory = _rand(5, 1, 3, 2)
    w = torch.tensor([[[0.5, 0.5, 0.0]]], dtype=torch.float64)
    torch.testing.assert_close(read(memory, w)[0, 0], 0.5 * memory[0, 0] + 0.5 * memory[0, 1], **T)
    e = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)
    a = torch.tensor([[[2.0, 3.0]]], dtype=torch.float64)
    new = write(memory, w, e, a)[0]
    m = memory[0]
    want = torch.stack(
        [
            torch.stack([m[0, 0] * 0.5 + 1.0, m[0, 1] + 1.5]),
            torch.stack([m[1, 0] * 0.5 + 1.0, m[1, 1] + 1.5]),
            m[2],
        ]
    )
    torch.testing.assert_close(new, want, **T)
    # two write heads: erase products, adds summed
    w2 = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]], dtype=torch.float64)
    e2 = torch.full((1, 2, 2), 0.5, dtype=torch.float64)
    a2 = torch.ones(1, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(write(memory, w2, e2, a2)[0, 0], m[0] * 0.25 + 2, **T)
    assert not math.isnan(float(new.sum()))


def test_gradcheck_addressing_float64():
    memory = _rand(6, 1, 4, 3).requires_grad_()
    key = _rand(7, 1, 1, 3).requires_grad_()
    gamma = torch.full((1, 1, 1), 1.7, dtype=torch.float64, requires_grad=True)
    w_prev = torch.softmax(_rand(8, 1, 1, 4), -1)
    beta = torch.full((1, 1, 1), 2.0, dtype=torch.float64)
    g = torch.full((1, 1, 1), 0.6, dtype=torch.float64)
    s = torch.softmax(_rand(9, 1, 1, 3), -1)
    assert torch.autograd.gradcheck(lambda m, k, y: address(m, w_prev, k, beta, g, s, y), (memory, key, gamma))


def test_shift_of_any_range_equals_the_definition():
    w = torch.softmax(_rand(11, 2, 3, 7), -1)
    for S in (1, 3, 5):
        s = torch.softmax(_rand(12 + S, 2, 3, S), -1)
        r = S // 2
        want = torch.zeros_like(w)
        for i in range(7):
            for j in range(7):
                k = (i - j) % 7  # eq. 8: s(i - j), offsets -r..r taken modulo N
                k = k if k <= r else k - 7
                if -r <= k <= r:
                    want[..., i] += w[..., j] * s[..., r + k]
        torch.testing.assert_close(circular_shift(w, s), want, **T)
