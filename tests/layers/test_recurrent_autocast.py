"""``Recurrent`` under ``torch.autocast("cpu", torch.bfloat16)``: every cell kind on every path it can take on the
CPU follows the one policy of :mod:`unrolled.layers.precision` (recurrence in float32 with autocast off, the input
projection of the custom paths in bfloat16, outputs in bfloat16, final states and gradients in float32)."""

from __future__ import annotations

import copy

import pytest
import torch

from unrolled.cells import LayerNormLSTMCell
from unrolled.layers import Recurrent
from unrolled.layers.fused import fusable
from unrolled.layers.precision import AutocastPolicy, autocast_policy
from unrolled.layers.scan import scan, supports_scan
from unrolled.layers.unroll import unroll_plain

B, T, I, H = 3, 7, 5, 8
BF16 = torch.bfloat16

#: every cell kind: (registry name, options)
CASES = [
    ("elman", {}),
    ("rnn_relu", {}),
    ("leaky", {"learn_tau": True}),
    ("lstm", {}),
    ("lstm", {"peephole": True}),
    ("lstm", {"proj_size": 3}),
    ("gru", {}),
    ("gru_before", {}),
    ("ln_lstm", {}),
    ("ln_gru", {}),
    ("ln_gru", {"reset": "before"}),
    ("jordan", {}),
    ("bn_lstm", {}),
    ("clockwork", {"periods": (1, 2)}),
    ("deep_transition", {}),
]


def case_id(case) -> str:
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


def backends(case) -> list[str]:
    """The paths this cell can take on the CPU."""
    probe = Recurrent(case[0], I, H, **case[1])
    found = ["loop"]
    if all(supports_scan(c) for c in probe.cells):
        found.append("scan")
    if fusable(list(probe.cells)):
        found.append("fused")
    return found


PATHS = [(case, backend) for case in CASES for backend in backends(case)]


def build(case, backend: str, seed: int = 0, **layer) -> Recurrent:
    torch.manual_seed(seed)
    rec = Recurrent(case[0], I, H, backend=backend, **layer, **case[1])
    with torch.no_grad():  # move every parameter off its initial value (LayerNorm gains, peepholes, BN gains)
        for p in rec.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return rec


def parts(state) -> list[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in parts(s)]


def loss_of(y, state) -> torch.Tensor:
    """A loss reaching every output and final state part with distinct weights."""
    g = torch.Generator().manual_seed(1)
    total = (y.float() * torch.randn(y.shape, generator=g)).sum()
    for s in parts(state):
        total = total + (s.float() * torch.randn(s.shape, generator=g)).sum()
    return total


def run(rec: Recurrent, x, autocast: bool, backward_inside: bool = False, **kw):
    """Outputs, final state parts and parameter gradients of one forward (under autocast or not)."""
    params = list(rec.parameters())
    with torch.autocast("cpu", dtype=BF16, enabled=autocast):
        y, state = rec(x, **kw)
        if backward_inside:
            grads = torch.autograd.grad(loss_of(y, state), params, allow_unused=True)
    if not backward_inside:
        grads = torch.autograd.grad(loss_of(y, state), params, allow_unused=True)
    return y, parts(state), grads


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().float(), b.detach().float()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@pytest.mark.parametrize(("case", "backend"), PATHS, ids=[f"{case_id(c)}-{b}" for c, b in PATHS])
def test_every_path_follows_the_policy(case, backend):
    """bfloat16 outputs, float32 states and gradients, within bfloat16 tolerance of the float32 run."""
    rec = build(case, backend)
    x = torch.randn(B, T, I)
    y32, s32, g32 = run(copy.deepcopy(rec), x, autocast=False)
    y16, s16, g16 = run(rec, x, autocast=True)
    assert y16.dtype == BF16
    assert all(s.dtype == torch.float32 for s in s16)
    assert rel(y16, y32) < 2e-2
    for a, b in zip(s16, s32):
        assert rel(a, b) < 2e-2
    for p, a, b in zip(rec.parameters(), g16, g32):
        if b is None:
            assert a is None
            continue
        assert a.dtype == p.dtype == torch.float32
        assert rel(a, b) < 3e-2, f"gradient of a {tuple(p.shape)} parameter: relative error {rel(a, b):.3g}"


@pytest.mark.parametrize(("case", "backend"), PATHS, ids=[f"{case_id(c)}-{b}" for c, b in PATHS])
def test_the_recurrence_runs_in_float32_on_a_bfloat16_projection(case, backend):
    """The hand computation of the policy: the input projection under autocast (bfloat16 products), then the
    generic loop over ``cell.step`` in float32 outside autocast. A custom path equals it (to float32 rounding for
    the state, one bfloat16 rounding for the outputs) and differs from the float32 run by far more than float32
    rounding (the products did run in bfloat16). torch's fused kernel runs wholly in float32: its outputs are the
    float32 run's, rounded once."""
    rec = build(case, backend)
    x = torch.randn(B, T, I)
    with torch.no_grad():
        y32, s32 = rec(x)
        with torch.autocast("cpu", dtype=BF16):
            y16, s16 = rec(x)
        s32, s16 = parts(s32), parts(s16)
        if backend == "fused":
            assert torch.equal(y16, y32.to(BF16))
            for a, b in zip(s16, s32):
                torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
            return
        cell = rec.cells[0]
        with torch.autocast("cpu", dtype=BF16):
            xp = cell.project_input(x.transpose(0, 1))  # (T, B, G)
        state = cell.init_state(B)
        y_ref, s_ref = unroll_plain.__wrapped__(cell, xp.float(), state)  # float32, autocast off
        s_ref = parts(s_ref)
        for a, b in zip(s16, s_ref):
            torch.testing.assert_close(a, b, rtol=0, atol=2e-5)
        torch.testing.assert_close(y16.float(), y_ref.transpose(0, 1).to(BF16).float(), rtol=0, atol=8e-3)
        assert max(float((a - b).abs().max()) for a, b in zip(s16, s32)) > 1e-4  # not a float32 run


SCAN_CASES = [case for case in CASES if "scan" in backends(case)]


@pytest.mark.parametrize("case", SCAN_CASES, ids=[case_id(c) for c in SCAN_CASES])
def test_scan_equals_the_loop_under_autocast(case):
    """Same policy on both paths: same outputs, states and gradients up to float32 rounding, with lengths."""
    x, lengths = torch.randn(B, T, I), torch.tensor([T, 4, 1])
    y_s, s_s, g_s = run(build(case, "scan"), x, autocast=True, lengths=lengths)
    y_l, s_l, g_l = run(build(case, "loop"), x, autocast=True, lengths=lengths)
    assert y_s.dtype == y_l.dtype == BF16
    torch.testing.assert_close(y_s.float(), y_l.float(), rtol=0, atol=8e-3)  # one bfloat16 rounding apart
    assert (y_s[1, 4:] == 0).all() and (y_s[2, 1:] == 0).all()
    for a, b in zip(s_s, s_l):
        torch.testing.assert_close(a, b, rtol=0, atol=2e-5)
    for a, b in zip(g_s, g_l):  # those of input-side parameters pass dL/dxp through one bfloat16 rounding
        assert rel(a, b) < 1e-3


@pytest.mark.parametrize("backend", ["scan", "loop", "fused"])
def test_backward_inside_the_autocast_region(backend):
    """The scan Function's backward runs with autocast off, like its forward, wherever ``backward()`` is called:
    the same gradients. The loop's and torch's kernel's backward are autograd's, whose ops autocast when
    ``backward()`` runs inside the region (torch advises against it): float32 gradients within bfloat16
    tolerance."""
    case, x = ("gru", {}), torch.randn(B, T, I)
    _, _, outside = run(build(case, backend), x, autocast=True)
    _, _, inside = run(build(case, backend), x, autocast=True, backward_inside=True)
    for a, b in zip(inside, outside):
        assert a.dtype == torch.float32
        if backend == "scan":
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
        else:
            assert 0 < rel(a, b) < 1e-2  # not equal: the region reaches autograd's backward ops


@pytest.mark.parametrize("cell", ["gru", "lstm", "ln_lstm", "jordan"])
def test_stacked_bidirectional_with_lengths(cell):
    """Two layers, both directions, residual and lengths: bfloat16 output (zero past each end), float32 states,
    close to the float32 run, and the state of one chunk carries into the next."""
    case = (cell, {})
    rec = build(case, "auto", num_layers=2, bidirectional=True, residual=True)
    x, lengths = torch.randn(B, T, I), torch.tensor([T, 5, 2])
    y32, s32 = rec(x, lengths=lengths)
    with torch.autocast("cpu", dtype=BF16):
        y16, s16 = rec(x, lengths=lengths)
        y_next, _ = rec(x, s16, lengths=lengths)  # a carried float32 state is accepted
    assert y16.dtype == y_next.dtype == BF16
    assert (y16[1, 5:] == 0).all() and (y16[2, 2:] == 0).all()
    assert rel(y16, y32) < 2e-2
    for a, b in zip(parts(s16), parts(s32)):
        assert a.dtype == torch.float32 and rel(a, b) < 2e-2


def test_the_layer_takes_the_same_path_under_autocast():
    """No silent fallback: a scan cell stays on the scan path (it took the generic loop before)."""
    for name, want in (("ln_lstm", ["scan"]), ("lstm", ["fused"]), ("jordan", ["loop"])):
        rec = Recurrent(name, I, H)
        with torch.autocast("cpu", dtype=BF16):
            assert rec.paths() == want
        assert rec.paths() == want


def test_scan_called_directly_follows_the_policy():
    torch.manual_seed(0)
    cell = LayerNormLSTMCell(I, H)
    x = torch.randn(T, B, I)
    with torch.autocast("cpu", dtype=BF16):
        xp = cell.project_input(x)
        y, (h, c) = scan(cell, xp, cell.init_state(B))
    assert (y.dtype, h.dtype, c.dtype) == (BF16, torch.float32, torch.float32)
    y_ref, (h_ref, c_ref) = unroll_plain(cell, xp.float(), cell.init_state(B))
    torch.testing.assert_close(h, h_ref, rtol=0, atol=2e-5)
    torch.testing.assert_close(c, c_ref, rtol=0, atol=2e-5)


def test_double_backward_under_autocast_equals_the_loop():
    """A gradient penalty through the scan path (recomputed as a loop, autocast off) equals the loop's."""
    case, x = ("ln_gru", {}), torch.randn(B, T, I)
    results = []
    for backend in ("scan", "loop"):
        rec = build(case, backend)
        params = list(rec.parameters())
        with torch.autocast("cpu", dtype=BF16):
            y, state = rec(x)
        grads = torch.autograd.grad(loss_of(y, state), params, create_graph=True)
        penalty = sum(g.pow(2).sum() for g in grads)
        results.append(torch.autograd.grad(penalty, params))
    for a, b in zip(*results):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_delays_and_zoneout_under_autocast():
    """The loop with its options (delay paths, zoneout in evaluation) follows the policy too."""
    case, x = ("lstm", {}), torch.randn(B, T, I)
    rec = build(case, "auto", delays=(1, 2), zoneout=0.2).eval()
    y32, s32 = rec(x)
    with torch.autocast("cpu", dtype=BF16):
        y16, s16 = rec(x)
    assert y16.dtype == BF16 and all(s.dtype == torch.float32 for s in parts(s16))  # history included
    assert rel(y16, y32) < 2e-2


def test_float64_parameters_and_no_autocast_are_left_alone():
    assert autocast_policy("cpu", torch.float32) is None
    with torch.autocast("cpu", dtype=BF16):
        assert autocast_policy("cpu", torch.float64) is None
        assert autocast_policy("cpu", torch.float32) == AutocastPolicy("cpu", torch.float32, BF16)
    rec, x = Recurrent("gru_before", I, H).double(), torch.randn(B, T, I, dtype=torch.float64)
    with torch.autocast("cpu", dtype=BF16):
        y16, _ = rec(x)
    assert y16.dtype == torch.float64
    torch.testing.assert_close(y16, rec(x)[0], rtol=0, atol=1e-12)
