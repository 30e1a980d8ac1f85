"""``torch.autograd.gradcheck`` (float64 finite differences) for ``Recurrent`` over a few steps: w.r.t. the input,
the initial state and every parameter (delay matrices included), with lengths, both directions and regularisers."""

import pytest
import torch
from torch.func import functional_call

from unrolled.layers import Recurrent
from unrolled.state import map_state

B, T, I, H = 2, 4, 2, 3

CASES = [
    ("elman", {"delays": (1, 2)}, True, False),
    ("rnn_relu", {"num_layers": 2, "backend": "auto"}, True, False),
    ("lstm", {"bidirectional": True, "backend": "auto"}, True, False),
    ("lstm", {"bidirectional": True, "backend": "loop", "proj_size": 2}, True, False),
    ("lstm", {"peephole": True, "num_layers": 2, "residual": True, "delays": (1, 3)}, False, False),
    ("gru", {"num_layers": 2, "bidirectional": True, "merge": "mean", "dropout": 0.3}, True, True),
    ("gru_before", {"bidirectional": True, "merge": "sum", "delays": (1, 2)}, True, False),
    ("leaky", {"tau_range": (1.0, 4.0), "learn_tau": True, "recurrent_dropout": 0.4}, True, True),
    ("jordan", {"output_size": 2, "zoneout": 0.3}, True, True),
    ("jordan", {"output_size": 2, "zoneout": 0.3}, True, False),
    ("ln_lstm", {"delays": (1, 2)}, True, False),
    ("ln_gru", {"reset": "before", "bidirectional": True}, True, False),
]


def case_id(case):
    name, kw, lengths, train = case
    return "-".join([name, *kw, *(["lengths"] if lengths else []), *(["train"] if train else [])])


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_recurrent_gradcheck(case):
    name, kw, with_lengths, training = case
    torch.manual_seed(0)
    rec = Recurrent(name, I, H, **kw).double().train(training)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, generator=g, dtype=torch.float64, requires_grad=True)
    state = map_state(lambda t: torch.randn(t.shape, generator=g, dtype=torch.float64), rec.init_state(B))
    leaves = [t.requires_grad_(True) for t in _flatten(state)]
    names = [n for n, _ in rec.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in rec.parameters()]
    lengths = torch.tensor([T, 2]) if with_lengths else None

    def fn(x, *rest):
        it = iter(rest[: len(leaves)])
        s = map_state(lambda _: next(it), state)
        with torch.random.fork_rng():  # the same dropout / zoneout masks at every evaluation
            torch.manual_seed(5)
            y, new = functional_call(rec, dict(zip(names, rest[len(leaves) :])), (x, s), {"lengths": lengths})
        return (y, *_flatten(new))

    assert torch.autograd.gradcheck(fn, (x, *leaves, *params), eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=True)


def _flatten(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in _flatten(s)]
