"""``torch.autograd.gradcheck`` (float64 finite differences) for every cell, w.r.t. input, state and parameters."""

import pytest
import torch
from torch.func import functional_call

from unrolled.cells import make_cell

B, I, H = 2, 3, 3

CELLS = [
    ("elman", {}),
    ("rnn_relu", {}),
    ("elman", {"nonlinearity": "sigmoid", "bias": False}),
    ("lstm", {}),
    ("lstm", {"peephole": True}),
    ("lstm", {"proj_size": 2}),
    ("lstm", {"peephole": True, "proj_size": 2}),
    ("lstm", {"bias": False}),
    ("gru", {}),
    ("gru_before", {}),
    ("gru_before", {"bias": False}),
    ("leaky", {"tau": 2.5}),
    ("leaky", {"tau_range": (1.0, 10.0), "learn_tau": True}),
    ("jordan", {"output_size": 2, "output_nonlinearity": "tanh"}),
    ("ln_lstm", {}),
    ("ln_gru", {}),
    ("ln_gru", {"reset": "before"}),
]


def _id(case):
    name, kw = case
    return name + "".join(f"-{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CELLS, ids=[_id(c) for c in CELLS])
def test_cell_gradcheck(case):
    name, kw = case
    torch.manual_seed(0)
    cell = make_cell(name, I, H, **kw).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, I, generator=g, dtype=torch.float64, requires_grad=True)
    zero = cell.init_state(B)
    parts = (zero,) if isinstance(zero, torch.Tensor) else zero
    state = [torch.randn(p.shape, generator=g, dtype=torch.float64, requires_grad=True) for p in parts]
    names = [n for n, _ in cell.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in cell.named_parameters()]
    n_state = len(state)

    def fn(x, *rest):
        s, ps = rest[:n_state], rest[n_state:]
        s = s[0] if isinstance(zero, torch.Tensor) else tuple(s)
        y, new = functional_call(cell, dict(zip(names, ps)), (x, s))
        return (y, *((new,) if isinstance(new, torch.Tensor) else new))

    assert torch.autograd.gradcheck(fn, (x, *state, *params), eps=1e-6, atol=1e-6, rtol=1e-5)
