"""Device handling: every path keeps tensors on the input's device and computes the CPU loop's numbers there
(runs on CPU always, and on CUDA where one is present)."""

import pytest
import torch

from unrolled.layers import Recurrent
from unrolled.state import map_state

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
I, H = 3, 4


def flatten(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in flatten(s)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("lstm", {"proj_size": 2}),
        ("gru", {}),
        ("gru_before", {}),
        ("ln_lstm", {}),
        ("jordan", {"output_size": 2}),
        ("leaky", {"tau_range": (1.0, 5.0), "delays": (1, 2)}),
    ],
)
def test_on_device_equals_cpu_loop(device, name, kw):
    torch.manual_seed(0)
    ref = Recurrent(name, I, H, num_layers=2, bidirectional=True, backend="loop", **kw).double()
    rec = Recurrent(name, I, H, num_layers=2, bidirectional=True, **kw).double()
    rec.load_state_dict(ref.state_dict())
    rec.to(device)
    x = torch.randn(3, 5, I, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])  # on the CPU, whatever the input's device
    state = map_state(torch.randn_like, ref.init_state(3))
    out_ref, st_ref = ref(x, state, lengths=lengths)
    out, st = rec(x.to(device), map_state(lambda t: t.to(device), state), lengths=lengths)
    assert out.device.type == device and all(t.device.type == device for t in flatten(st))
    torch.testing.assert_close(out.cpu(), out_ref, rtol=1e-9, atol=1e-10)
    for a, b in zip(flatten(st), flatten(st_ref), strict=True):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-9, atol=1e-10)
    mask = (torch.arange(5)[None, :] < lengths[:, None]).to(device)
    out_m, _ = rec(x.to(device), map_state(lambda t: t.to(device), state), mask=mask)
    torch.testing.assert_close(out_m, out, rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_regularisers_and_init_state_on_device(device):
    torch.manual_seed(0)
    rec = Recurrent("gru", I, H, num_layers=2, dropout=0.2, recurrent_dropout=0.3, zoneout=0.2, delays=(1, 2))
    rec.to(device)
    assert all(t.device.type == device for t in flatten(rec.init_state(2)))
    x = torch.randn(2, 4, I, device=device, requires_grad=True)
    out, st = rec(x, lengths=torch.tensor([4, 3], device=device))
    assert out.device.type == device and all(t.device.type == device for t in flatten(st))
    out.sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
