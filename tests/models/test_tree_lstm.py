"""Tree-LSTM compositions equal the paper's equations computed by hand; gradcheck in float64."""

import pytest
import torch

from unrolled.models.tree_lstm import BinaryTreeLSTM, ChildSumTreeLSTM

TIGHT = {"rtol": 1e-12, "atol": 1e-13}


def _rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_child_sum_equals_equations():
    comp = ChildSumTreeLSTM(3, 4).double()
    h_k, c_k = _rand(1, 2, 3, 4), _rand(2, 2, 3, 4)  # 2 nodes, 3 children
    h, c = comp.internal((h_k, c_k))
    H = 4
    Ui, Uo, Uu = comp.weight_hiou.split(H)
    bi, bo, bu = comp.bias_iou.split(H)
    for j in range(2):
        ht = h_k[j].sum(0)
        i, o, u = torch.sigmoid(Ui @ ht + bi), torch.sigmoid(Uo @ ht + bo), torch.tanh(Uu @ ht + bu)
        cj = i * u
        for k in range(3):
            cj = cj + torch.sigmoid(comp.weight_hf @ h_k[j, k] + comp.bias_f) * c_k[j, k]
        torch.testing.assert_close(c[j], cj, **TIGHT)
        torch.testing.assert_close(h[j], o * torch.tanh(cj), **TIGHT)


def test_leaf_equals_equations():
    comp = ChildSumTreeLSTM(3, 2).double()
    x = _rand(3, 5, 3)
    h, c = comp.leaf(x)
    W, b = comp.weight_iou, comp.bias_iou
    i, o, u = torch.sigmoid(x @ W[:2].T + b[:2]), torch.sigmoid(x @ W[2:4].T + b[2:4]), torch.tanh(x @ W[4:].T + b[4:])
    torch.testing.assert_close(c, i * u, **TIGHT)
    torch.testing.assert_close(h, o * torch.tanh(i * u), **TIGHT)


def test_binary_equals_equations_and_tells_children_apart():
    comp = BinaryTreeLSTM(3, 2).double()
    h_k, c_k = _rand(4, 1, 2, 2), _rand(5, 1, 2, 2)
    h, c = comp.internal((h_k, c_k))
    hl, hr = h_k[0]
    hcat = torch.cat([hl, hr])
    g = comp.weight_hiou @ hcat + comp.bias_iou
    i, o, u = torch.sigmoid(g[:2]), torch.sigmoid(g[2:4]), torch.tanh(g[4:])
    fl = torch.sigmoid(comp.weight_hf[:2] @ hcat + comp.bias_f)  # U^(f)_{1l}
    fr = torch.sigmoid(comp.weight_hf[2:] @ hcat + comp.bias_f)  # U^(f)_{2l}
    cj = i * u + fl * c_k[0, 0] + fr * c_k[0, 1]
    torch.testing.assert_close(c[0], cj, **TIGHT)
    torch.testing.assert_close(h[0], o * torch.tanh(cj), **TIGHT)
    swapped = comp.internal((h_k.flip(1), c_k.flip(1)))[0]
    assert not torch.allclose(swapped, h)
    # a unary node is a binary node whose right child is the zero state
    one = comp.internal((h_k[:, :1], c_k[:, :1]))[0]
    zero = comp.internal((torch.cat([h_k[:, :1], 0 * h_k[:, :1]], 1), torch.cat([c_k[:, :1], 0 * c_k[:, :1]], 1)))[0]
    torch.testing.assert_close(one, zero, **TIGHT)
    with pytest.raises(ValueError, match="a node has 3 children; expected at most 2"):
        comp.internal((_rand(6, 1, 3, 2), _rand(7, 1, 3, 2)))


@pytest.mark.parametrize("cls", [ChildSumTreeLSTM, BinaryTreeLSTM])
def test_gradcheck_float64(cls):
    comp = cls(2, 3).double()
    h_k = _rand(8, 2, 2, 3).requires_grad_()
    c_k = _rand(9, 2, 2, 3).requires_grad_()
    x = _rand(10, 2, 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: sum(comp.internal((a, b))), (h_k, c_k))
    assert torch.autograd.gradcheck(lambda a: sum(comp.leaf(a)), (x,))
