"""Reproducibility: the same seed gives the same initialisation and the same outputs (dropout, recurrent dropout
and zoneout masks included); another seed gives other numbers."""

import pytest
import torch

from unrolled.layers import Recurrent

I, H = 3, 4

CASES = [
    ("elman", {}),
    ("lstm", {"proj_size": 2, "dropout": 0.3}),
    ("gru", {"recurrent_dropout": 0.3}),
    ("gru_before", {"zoneout": 0.2}),
    ("leaky", {"tau_range": (1.0, 50.0)}),
    ("leaky", {"tau_range": (1.0, 50.0), "learn_tau": True, "delays": (1, 2)}),
    ("jordan", {"output_size": 2}),
    ("ln_lstm", {"recurrent_dropout": 0.2, "zoneout": 0.1}),
    ("ln_gru", {"dropout": 0.5}),
]


def run(name, kw, seed):
    torch.manual_seed(seed)
    rec = Recurrent(name, I, H, num_layers=2, bidirectional=True, **kw)
    x = torch.randn(3, 5, I)
    out, _ = rec(x, lengths=torch.tensor([5, 3, 4]))
    return rec.state_dict(), out


@pytest.mark.parametrize("case", CASES, ids=[c[0] + "".join(f"-{k}" for k in c[1]) for c in CASES])
def test_same_seed_same_numbers(case):
    name, kw = case
    sd1, out1 = run(name, kw, 0)
    sd2, out2 = run(name, kw, 0)
    sd3, out3 = run(name, kw, 1)
    assert list(sd1) == list(sd2)
    for k in sd1:
        assert torch.equal(sd1[k], sd2[k]), k
    assert torch.equal(out1, out2)
    assert not torch.equal(out1, out3)
    weights = [k for k in sd1 if "weight_ih" in k]
    assert all(not torch.equal(sd1[k], sd3[k]) for k in weights)
    # every layer and direction gets its own draw, not a copy of the first cell
    assert not torch.equal(sd1["cells.0.weight_hh"], sd1["cells.1.weight_hh"])
