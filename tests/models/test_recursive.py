"""Recursive network composition: p = tanh(W [c1; c2] + b) by hand; leaves are word vectors; errors."""

import pytest
import torch

from unrolled.models.recursive import RecursiveComposition


def test_composition_by_hand_and_unary_node():
    comp = RecursiveComposition(3, 3).double()
    torch.nn.init.normal_(comp.bias)
    kids = torch.randn(2, 2, 3, dtype=torch.float64)
    (p,) = comp.internal((kids,))
    for j in range(2):
        want = torch.tanh(comp.weight @ torch.cat([kids[j, 0], kids[j, 1]]) + comp.bias)
        torch.testing.assert_close(p[j], want, rtol=1e-12, atol=1e-13)
    (u,) = comp.internal((kids[:, :1],))
    torch.testing.assert_close(u, torch.tanh(kids[:, 0] @ comp.weight[:, :3].T + comp.bias))
    x = torch.randn(4, 3, dtype=torch.float64)
    assert comp.leaf(x)[0] is x


def test_errors():
    with pytest.raises(ValueError, match="input_size must equal hidden_size=4, got 3"):
        RecursiveComposition(3, 4)
    with pytest.raises(ValueError, match="a node has 3 children; expected a binary tree"):
        RecursiveComposition(2, 2).internal((torch.zeros(1, 3, 2),))


def test_gradcheck_float64():
    comp = RecursiveComposition(3, 3).double()
    kids = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k: comp.internal((k,))[0], (kids,))
