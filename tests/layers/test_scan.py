"""The scan path (hand-written BPTT) against the generic loop over ``cell.step``; its Function's gradients."""

from __future__ import annotations

import pytest
import torch

import unrolled.layers.scan.function as scan_function
from unrolled import Recurrent
from unrolled.cells import (
    ElmanCell,
    GRUCell,
    JordanCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LeakyCell,
    LSTMCell,
)
from unrolled.layers.lengths import time_mask
from unrolled.layers.scan import (
    DoubleBackwardNotPrepared,
    _ScanFunction,
    capture_of,
    double_backward,
    scan,
    scan_kernel,
    supports_scan,
)
from unrolled.layers.scan.kernel import transposed
from unrolled.layers.unroll import UnrollOptions, unroll, unroll_plain

I, H = 3, 4

CELLS = {
    "elman_tanh": lambda: ElmanCell(I, H),
    "elman_relu": lambda: ElmanCell(I, H, nonlinearity="relu"),
    "elman_sigmoid": lambda: ElmanCell(I, H, nonlinearity="sigmoid"),
    "elman_nobias": lambda: ElmanCell(I, H, bias=False),
    "lstm": lambda: LSTMCell(I, H),
    "lstm_nobias": lambda: LSTMCell(I, H, bias=False),
    "lstm_peephole": lambda: LSTMCell(I, H, peephole=True),
    "gru_after": lambda: GRUCell(I, H),
    "gru_after_nobias": lambda: GRUCell(I, H, bias=False),
    "gru_before": lambda: GRUCell(I, H, reset="before"),
    "gru_before_nobias": lambda: GRUCell(I, H, reset="before", bias=False),
    "leaky_fixed": lambda: LeakyCell(I, H, tau_range=(1.0, 6.0)),
    "leaky_learned": lambda: LeakyCell(I, H, tau=3.0, learn_tau=True),
    "leaky_relu": lambda: LeakyCell(I, H, nonlinearity="relu"),
    "leaky_sigmoid": lambda: LeakyCell(I, H, nonlinearity="sigmoid"),
    "ln_lstm": lambda: LayerNormLSTMCell(I, H),
    "ln_gru_after": lambda: LayerNormGRUCell(I, H),
    "ln_gru_before": lambda: LayerNormGRUCell(I, H, reset="before"),
}
#: one cell of every kernel and variant (peepholes, both resets, learned time constants)
ONE_PER_KERNEL = ["elman_relu", "lstm_peephole", "gru_after", "gru_before", "leaky_learned", "ln_lstm",
                  "ln_gru_after", "ln_gru_before"]  # fmt: skip


def make(name: str, seed: int = 0):
    """A float64 cell whose parameters are all moved off their initial values (LayerNorm gains, peepholes)."""
    torch.manual_seed(seed)
    cell = CELLS[name]().double()
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return cell


def parts(state):
    return (state,) if isinstance(state, torch.Tensor) else tuple(state)


def random_state(cell, B: int):
    s = tuple(torch.randn_like(p).requires_grad_() for p in parts(cell.init_state(B, dtype=torch.float64)))
    return s[0] if len(s) == 1 else s


def run_and_grad(fn, cell, x, s0):
    """Outputs, final state and the gradients of a loss touching every output and state part."""
    y, s = fn(cell.project_input(x), s0)
    w = torch.linspace(-1.0, 1.0, y.numel(), dtype=y.dtype).view_as(y)
    loss = (y * w).sum() + sum(0.5 * (p**3).sum() for p in parts(s))
    leaves = [x, *parts(s0), *cell.parameters()]
    return y, parts(s), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_scan_matches_loop_outputs_states_and_every_gradient(name):
    cell = make(name)
    x = torch.randn(6, 3, I, dtype=torch.float64, requires_grad=True)
    s0 = random_state(cell, 3)
    y1, s1, g1 = run_and_grad(lambda xp, s: unroll_plain(cell, xp, s), cell, x, s0)
    y2, s2, g2 = run_and_grad(lambda xp, s: scan(cell, xp, s), cell, x, s0)
    torch.testing.assert_close(y2, y1, rtol=0, atol=1e-13)
    for a, b in zip(s2, s1):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)
    names = ["x", *(f"state{k}" for k in range(len(s1))), *(n for n, _ in cell.named_parameters())]
    for n, a, b in zip(names, g2, g1):
        assert b.abs().max() > 0, f"{n}: loop gradient is zero, the comparison would be vacuous"
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=lambda m, n=n: f"{n}: {m}")


@pytest.mark.parametrize("name", sorted(CELLS))
def test_scan_with_lengths_matches_loop(name):
    cell = make(name, seed=1)
    T, lengths = 5, torch.tensor([5, 2, 1, 4])
    x = torch.randn(T, 4, I, dtype=torch.float64, requires_grad=True)
    s0 = random_state(cell, 4)

    def loop(xp, s):
        y, s, _ = unroll(cell, xp, s, UnrollOptions(lengths=lengths))
        return y, s

    def scanned(xp, s):
        y, s = scan(cell, xp, s, lengths)
        return y * time_mask(lengths, T).unsqueeze(-1), s

    y1, s1, g1 = run_and_grad(loop, cell, x, s0)
    y2, s2, g2 = run_and_grad(scanned, cell, x, s0)
    torch.testing.assert_close(y2, y1, rtol=0, atol=1e-13)
    for a, b in zip((*s2, *g2), (*s1, *g1)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def the_function(name: str, seed: int, lengths: list[int] | None):
    """_ScanFunction of a float64 cell over 3 steps as a function of its tensor inputs, and those inputs (xp, the
    state parts, the kernel's parameters as fresh leaves), for gradcheck."""
    cell = make(name, seed=seed)
    kernel = scan_kernel(cell)
    xp = cell.project_input(torch.randn(3, 2, I, dtype=torch.float64)).detach().requires_grad_()
    s0 = [p.detach().requires_grad_() for p in parts(random_state(cell, 2))]
    P = [None if p is None else p.detach().requires_grad_() for p in kernel.params(cell)]
    capture = capture_of(None if lengths is None else torch.tensor(lengths), 3)

    def f(xp, *rest):
        s, Q = rest[: len(s0)], list(rest[len(s0) :])
        Q = [Q.pop(0) if p is not None else None for p in P]
        return _ScanFunction.apply(kernel, capture, len(s0), xp, *s, *Q)

    return f, (xp, *s0, *(p for p in P if p is not None))


@pytest.mark.parametrize("name", ONE_PER_KERNEL)
@pytest.mark.parametrize("lengths", [None, [3, 1]])
def test_gradcheck_of_the_function(name, lengths):
    f, inputs = the_function(name, 2, lengths)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["lstm_peephole", "gru_before", "leaky_learned", "ln_gru_after"])
def test_gradients_with_only_final_state_or_only_output_used(name):
    cell = make(name, seed=3)
    x = torch.randn(4, 2, I, dtype=torch.float64, requires_grad=True)
    s0 = random_state(cell, 2)
    for pick in (lambda y, s: parts(s)[-1].sum(), lambda y, s: y.pow(2).sum()):
        grads = []
        for fn in (unroll_plain, scan):
            y, s = fn(cell, cell.project_input(x), s0)
            grads.append(torch.autograd.grad(pick(y, s), [x, *parts(s0), *cell.parameters()]))
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ONE_PER_KERNEL)
def test_no_grad_forward_equals_grad_forward_and_keeps_no_workspace(name, monkeypatch):
    cell = make(name, seed=4)
    T = 7
    x = torch.randn(T, 3, I, dtype=torch.float64)
    s0 = cell.init_state(3, dtype=torch.float64)
    y_grad, s_grad = scan(cell, cell.project_input(x), s0)
    assert y_grad.grad_fn is not None  # parameters require grad: the Function ran and saved its workspace

    seen = []
    real_forward = scan_function._forward

    def spy(kernel, xp, state0, P, capture, save):
        out, final, ws = real_forward(kernel, xp, state0, P, capture, save)
        seen.append((save, ws, xp))
        return out, final, ws

    monkeypatch.setattr(scan_function, "_forward", spy)
    with torch.no_grad():
        y, s = scan(cell, cell.project_input(x), s0)
    assert y.grad_fn is None
    assert torch.equal(y, y_grad)
    for a, b in zip(parts(s), parts(s_grad)):
        assert torch.equal(a, b)
    [(save, ws, xp_in)] = seen
    assert save is False
    for key, value in ws.items():  # buffers hold one or two scratch steps, per-step lists stay empty
        if isinstance(value, torch.Tensor) and value.dim() == 3 and value is not xp_in:  # xp is the input
            assert value.shape[0] <= 2, f"{key}: a T-long buffer {tuple(value.shape)} was kept"
        if isinstance(value, list):
            kept = [v for v in value if v is not None]
            assert len(kept) <= 2, f"{key}: {len(kept)} per-step tensors were kept without gradients"


@pytest.mark.parametrize("keep", [False, True], ids=["first_order", "double_backward"])
def test_saved_tensors_are_only_the_workspace(keep):
    """LSTM with grad saves state0 (2), W_hh, the output, gates, c_t and tanh(c_t): (T, B, 7H) + small; xp (for the
    double backward, 4H per token more) only inside double_backward()."""
    cell = make("lstm")
    T, B = 9, 2
    x = torch.randn(T, B, I, dtype=torch.float64)
    xp = cell.project_input(x)  # autograd saves x and weights for this; count only what the Function saves
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        with double_backward(keep):
            scan(cell, xp, cell.init_state(B, dtype=torch.float64))
    assert len(packed) == 7 + keep
    assert any(t is xp for t in packed) == keep
    assert sum(t.numel() for t in packed) == 2 * B * H + 4 * H * H + T * B * (4 * H * keep + H + 4 * H + H + H)


@pytest.mark.parametrize("name", ONE_PER_KERNEL)
def test_xp_is_saved_only_for_a_double_backward(name):
    """Every kernel: the memory the Function saves per call is smaller by exactly xp outside double_backward()."""
    cell = make(name)
    x = torch.randn(6, 2, I, dtype=torch.float64)
    sizes = []
    for keep in (False, True):
        xp = cell.project_input(x)
        packed = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t, packed=packed: packed.append(t) or t, lambda t: t):
            with double_backward(keep):
                scan(cell, xp, cell.init_state(2, dtype=torch.float64))
        sizes.append(sum(t.numel() for t in packed))
    assert sizes[1] - sizes[0] == xp.numel()


def test_create_graph_after_a_first_order_forward_is_a_one_line_error():
    cell = make("ln_lstm")
    x = torch.randn(4, 2, I, dtype=torch.float64, requires_grad=True)
    with double_backward(False):
        y, _ = scan(cell, cell.project_input(x), cell.init_state(2, dtype=torch.float64))
    with pytest.raises(DoubleBackwardNotPrepared, match=r"outside double_backward\(False\)"):
        torch.autograd.grad(y.sum(), x, create_graph=True)
    with double_backward(False):
        y, _ = scan(cell, cell.project_input(x), cell.init_state(2, dtype=torch.float64))
    (gx,) = torch.autograd.grad(y.sum(), x)  # the first-order backward never needs xp
    assert gx.grad_fn is None and torch.isfinite(gx).all()


def test_double_backward_works_by_default_and_equals_the_loop():
    """Outside any context the scan path keeps xp, so a gradient penalty works as with torch.nn's layers."""
    cell = make("ln_lstm")
    x = torch.randn(4, 2, I, dtype=torch.float64, requires_grad=True)
    s0 = cell.init_state(2, dtype=torch.float64)
    y, _ = scan(cell, cell.project_input(x), s0)
    (gx,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
    (ggx,) = torch.autograd.grad(gx.pow(2).sum(), x)
    ys, state = [], s0
    for x_t in x.unbind(0):
        y_t, state = cell(x_t, state)
        ys.append(y_t)
    (lx,) = torch.autograd.grad(torch.stack(ys).pow(2).sum(), x, create_graph=True)
    (lggx,) = torch.autograd.grad(lx.pow(2).sum(), x)
    torch.testing.assert_close(gx, lx, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ggx, lggx, rtol=1e-10, atol=1e-12)


def test_the_task_runner_trains_without_keeping_xp(monkeypatch, tmp_path):
    """RunSession.fit runs the trainer inside double_backward(False) (its backward is first-order) and restores
    the default afterwards."""
    import types

    from unrolled.layers.scan.double import keeps_inputs
    from unrolled.tasks import session

    seen = []

    class FakeTrainer:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def fit(self, train_data, valid_data):
            seen.append(keeps_inputs())
            return "result"

    monkeypatch.setattr(session, "Trainer", FakeTrainer)
    run = session.RunSession(task=types.SimpleNamespace(name="lm"), run_dir=tmp_path)
    assert keeps_inputs()
    assert run.fit(None, None, [], None, None, extra_config={}) == "result"
    assert seen == [False] and keeps_inputs()


def test_scan_is_deterministic():
    cell = make("ln_gru_before")
    x = torch.randn(5, 2, I, dtype=torch.float64, requires_grad=True)
    s0 = random_state(cell, 2)
    _, _, g1 = run_and_grad(lambda xp, s: scan(cell, xp, s), cell, x, s0)
    _, _, g2 = run_and_grad(lambda xp, s: scan(cell, xp, s), cell, x, s0)
    for a, b in zip(g1, g2):
        assert torch.equal(a, b)


def test_scan_errors():
    cell = ElmanCell(I, H)
    with pytest.raises(ValueError, match=r"scan expected lengths as a \(2,\) integer tensor, got shape \(3,\)"):
        scan(cell, torch.zeros(4, 2, H), cell.init_state(2), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"scan expected lengths in 1..T = 1..4, got min 0 and max 5"):
        scan(cell, torch.zeros(4, 2, H), cell.init_state(2), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="JordanCell with these options has no scan kernel"):
        scan(JordanCell(I, H), torch.zeros(2, 1, H), torch.zeros(1, H))
    with pytest.raises(ValueError, match="LSTMCell with these options has no scan kernel"):
        scan(LSTMCell(I, H, proj_size=2), torch.zeros(2, 1, 4 * H), (torch.zeros(1, 2), torch.zeros(1, H)))
    cell = LSTMCell(I, H)
    with pytest.raises(ValueError, match=r"expected projected inputs \(T, B, 16\), got \(2, 1, 3\)"):
        scan(cell, torch.zeros(2, 1, I), cell.init_state(1))


def test_supports_scan_registry():
    assert supports_scan(LSTMCell(I, H, peephole=True))
    assert supports_scan(LayerNormGRUCell(I, H, reset="before"))
    assert not supports_scan(LSTMCell(I, H, proj_size=2))
    assert not supports_scan(JordanCell(I, H))

    class Custom(ElmanCell):  # a subclass may change the math: exact class match only
        pass

    assert not supports_scan(Custom(I, H))


# --- padding past each end -------------------------------------------------------------------------------
EXPLODING = ("elman_relu", "leaky_relu")  # unbounded activations: padded steps overflow with large weights


def explode(cell) -> None:
    """Add 1000 I to every (H, H) block of W_hh: unbounded cells grow ~1000x per step (inf within ~100 steps)."""
    with torch.no_grad():
        W = cell.weight_hh.view(-1, H, H)
        W += 1000 * torch.eye(H, dtype=W.dtype)


@pytest.mark.parametrize("exploding", [False, True], ids=["normal", "exploding"])
@pytest.mark.parametrize("name", sorted(CELLS))
def test_padding_never_reaches_outputs_states_or_gradients(name, exploding):
    """Long NaN padding (and, with exploding weights, padded steps that overflow) changes nothing: outputs, final
    states and every gradient equal those of each sequence run alone, unpadded, on the generic loop."""
    cell = make(name, seed=7)
    if exploding:
        explode(cell)
    T, lengths = 150, [6, 3, 1]
    B = len(lengths)
    valid = time_mask(torch.tensor(lengths), T).unsqueeze(-1)  # (T, B, 1)
    xp = cell.project_input(torch.randn(T, B, I, dtype=torch.float64)).detach()
    if exploding and name in EXPLODING:  # the padded steps really overflow when run
        assert not torch.isfinite(unroll_plain(cell, xp, cell.init_state(B, dtype=torch.float64))[0]).all()
    xp_loop = xp.masked_fill(~valid, 0.0).requires_grad_()
    xp_nan = xp.masked_fill(~valid, float("nan")).requires_grad_()
    s0 = random_state(cell, B)
    w = torch.linspace(-1.0, 1.0, T * B * cell.output_size, dtype=torch.float64).view(T, B, -1)

    y, s = scan(cell, xp_nan, s0, torch.tensor(lengths))
    loss = (y * w).sum() + sum(0.5 * (p**3).sum() for p in parts(s))  # w is nonzero past the ends too
    leaves = [*parts(s0), *cell.parameters()]
    g_scan = torch.autograd.grad(loss, [xp_nan, *leaves], allow_unused=True)  # input weights are unused

    loss_loop, ys, finals = 0.0, [], []
    for b, L in enumerate(lengths):  # each sequence alone: its valid steps, its own initial state
        s0_b = tuple(p[b : b + 1] for p in parts(s0))
        y_b, s_b = unroll_plain(cell, xp_loop[:L, b : b + 1], s0_b[0] if len(s0_b) == 1 else s0_b)
        loss_loop = loss_loop + (y_b * w[:L, b : b + 1]).sum() + sum(0.5 * (p**3).sum() for p in parts(s_b))
        ys.append(y_b)
        finals.append(parts(s_b))
    g_loop = torch.autograd.grad(loss_loop, [xp_loop, *leaves], allow_unused=True)

    for b, L in enumerate(lengths):
        torch.testing.assert_close(y[:L, b : b + 1], ys[b], rtol=1e-12, atol=1e-12)
        for got, want in zip(parts(s), finals[b]):
            torch.testing.assert_close(got[b : b + 1], want, rtol=1e-12, atol=1e-12)
    assert torch.equal(y.masked_select(~valid), torch.zeros(int((~valid).sum()) * cell.output_size).double())
    names = ["xp", *(f"state{k}" for k in range(len(parts(s0)))), *(n for n, _ in cell.named_parameters())]
    for n, a, b in zip(names, g_scan, g_loop):
        assert (a is None) == (b is None), n
        if a is not None:
            assert torch.isfinite(a).all(), f"{n}: non-finite gradient"
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=lambda m, n=n: f"{n}: {m}")


@pytest.mark.parametrize("backend", ["auto", "scan"])
def test_relu_elman_with_growing_weights_and_lengths_has_the_loop_gradients(backend):
    """The reported case: relu Elman, W_hh = 2 I, biases 1, T = 200, lengths [1, 3], float32: padded steps
    overflow (2^200), the gradients must stay those of the loop backend."""
    layers = {b: Recurrent("elman", 3, 3, nonlinearity="relu", backend=b) for b in (backend, "loop")}
    with torch.no_grad():
        layers[backend].cells[0].weight_hh.copy_(2 * torch.eye(3))
        layers[backend].cells[0].bias_ih.fill_(1.0)
        layers[backend].cells[0].bias_hh.fill_(1.0)
    layers["loop"].load_state_dict(layers[backend].state_dict())
    assert layers[backend].paths("cpu", grad=True, batch=2) == ["scan"]
    torch.manual_seed(0)
    x = torch.randn(2, 200, 3)
    grads = {}
    for b, layer in layers.items():
        y, (h,) = layer(x, lengths=torch.tensor([1, 3]))
        (y.sum() + h.sum()).backward()
        grads[b] = layer.cells[0].weight_hh.grad
    assert torch.isfinite(grads[backend]).all()
    torch.testing.assert_close(grads[backend], grads["loop"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell, kwargs", [("elman", {"nonlinearity": "relu"}), ("lstm", {"peephole": True}),
                                          ("gru", {}), ("ln_gru", {"reset": "before"})])  # fmt: skip
def test_recurrent_nan_padded_input_equals_unpadded(cell, kwargs):
    a, b = twin(cell, "scan", "loop", **kwargs)
    T, lengths = 30, torch.tensor([30, 4, 1])
    x = torch.randn(3, T, I, dtype=torch.float64)
    x_nan = x.masked_fill(~time_mask(lengths, T).t().unsqueeze(-1), float("nan")).requires_grad_()
    x_zero = x.masked_fill(~time_mask(lengths, T).t().unsqueeze(-1), 0.0).requires_grad_()
    results = []
    for layer, inp in ((a, x_nan), (b, x_zero)):
        y, state = layer(inp, lengths=lengths)
        loss = y.pow(2).sum() + sum(t.sum() for t in parts(state[0]))
        results.append((y, parts(state[0]), torch.autograd.grad(loss, [inp, *layer.parameters()])))
    (y1, s1, g1), (y2, s2, g2) = results
    torch.testing.assert_close(y1, y2, rtol=0, atol=1e-12)
    for u, v in zip((*s1, *g1), (*s2, *g2)):
        assert torch.isfinite(u).all()
        torch.testing.assert_close(u, v, rtol=1e-11, atol=1e-11)


# --- double backward -------------------------------------------------------------------------------------
def penalty_and_its_gradients(fn, cell, x, s0):
    """dL/d(x, state, parameters) with create_graph, and the gradients of their squared norm (a gradient penalty)."""
    with double_backward():
        y, s = fn(cell.project_input(x), s0)
    w = torch.linspace(-1.0, 1.0, y.numel(), dtype=y.dtype).view_as(y)
    loss = (y * w).sum() + sum(0.5 * (p**3).sum() for p in parts(s))
    leaves = [x, *parts(s0), *cell.parameters()]
    g = torch.autograd.grad(loss, leaves, create_graph=True)
    penalty = sum((gi**2).sum() for gi in g)
    return g, torch.autograd.grad(penalty, leaves, allow_unused=True)


@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
@pytest.mark.parametrize("name", sorted(CELLS))
def test_double_backward_matches_loop(name, lengths):
    cell = make(name, seed=8)
    T = 5
    x = torch.randn(T, 3, I, dtype=torch.float64, requires_grad=True)
    s0 = random_state(cell, 3)
    L = None if lengths is None else torch.tensor(lengths)

    def loop(xp, s):
        if L is None:
            return unroll_plain(cell, xp, s)
        y, s, _ = unroll(cell, xp, s, UnrollOptions(lengths=L))
        return y, s

    g1, gg1 = penalty_and_its_gradients(loop, cell, x, s0)
    g2, gg2 = penalty_and_its_gradients(lambda xp, s: scan(cell, xp, s, L), cell, x, s0)
    _, _, g_plain = run_and_grad(lambda xp, s: scan(cell, xp, s, L), cell, x, s0)  # hand-written first order
    names = ["x", *(f"state{k}" for k in range(len(parts(s0)))), *(n for n, _ in cell.named_parameters())]
    for n, a, b, c in zip(names, g2, g1, g_plain):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11, msg=lambda m, n=n: f"d{n}: {m}")
        torch.testing.assert_close(a, c, rtol=1e-11, atol=1e-11, msg=lambda m, n=n: f"d{n} (plain): {m}")
    assert any(b is not None and b.abs().max() > 0 for b in gg1)
    for n, a, b in zip(names, gg2, gg1):
        assert (a is None) == (b is None), n
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=lambda m, n=n: f"d penalty/d{n}: {m}")


@pytest.mark.parametrize("name", ONE_PER_KERNEL)
@pytest.mark.parametrize("lengths", [None, [3, 1]], ids=["full", "lengths"])
def test_gradgradcheck_of_the_function(name, lengths):
    f, inputs = the_function(name, 9, lengths)
    with double_backward():
        assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("cell, peer", [("elman", "RNN"), ("gru", "GRU")])
def test_recurrent_auto_supports_gradient_penalties_like_torch(cell, peer):
    """backend="auto" trains Elman (and small-batch GRU) layers through scan on CPU: a gradient penalty must work
    and agree with torch.nn's own layer."""
    torch.manual_seed(0)
    layer = Recurrent(cell, I, H, num_layers=2).double()
    assert layer.paths("cpu", grad=True, batch=3) == ["scan", "scan"]
    ref = layer.to_torch()
    assert type(ref).__name__ == peer
    x = torch.randn(3, 6, I, dtype=torch.float64, requires_grad=True)
    results = []
    for module in (layer, ref):
        with double_backward():  # the scan path keeps xp for create_graph only when asked
            y, _ = module(x)
        (gx,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        penalty = gx.pow(2).sum()
        results.append(torch.autograd.grad(penalty, [x, *module.parameters()]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-11)


# --- through Recurrent ----------------------------------------------------------------------------------
def twin(cell: str, backend_a: str, backend_b: str, **kwargs):
    torch.manual_seed(0)
    a = Recurrent(cell, I, H, backend=backend_a, **kwargs).double()
    with torch.no_grad():
        for p in a.parameters():
            p.add_(0.2 * torch.randn_like(p))
    b = Recurrent(cell, I, H, backend=backend_b, **kwargs).double()
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize(
    "cell, kwargs",
    [
        ("gru_before", {}),
        ("lstm", {"peephole": True}),
        ("ln_lstm", {}),
        ("leaky", {"learn_tau": True}),
        ("elman", {"nonlinearity": "relu"}),
        ("ln_gru", {"reset": "before"}),
    ],
)
def test_recurrent_scan_matches_loop_stacked_bidirectional_with_lengths(cell, kwargs):
    a, b = twin(cell, "scan", "loop", num_layers=2, bidirectional=True, **kwargs)
    assert a.uses_scan == [True] * 4 and not any(a.uses_fused)
    x = torch.randn(4, 5, I, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 3, 1, 4])
    results = []
    for layer in (a, b):
        y, state = layer(x, lengths=lengths)
        flat = [t for s in state for t in parts(s)]
        w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
        loss = (y * w).sum() + sum((t**2).sum() for t in flat)
        results.append((y, flat, torch.autograd.grad(loss, [x, *layer.parameters()])))
    (y1, s1, g1), (y2, s2, g2) = results
    torch.testing.assert_close(y1, y2, rtol=0, atol=1e-12)
    assert y1[2, 1:].abs().max() == 0  # zero past the end, as the loop
    for u, v in zip((*s1, *g1), (*s2, *g2)):
        torch.testing.assert_close(u, v, rtol=0, atol=1e-11)


def test_auto_routes_scan_cells_and_keeps_the_loop_for_extras():
    assert Recurrent("gru_before", I, H).uses_scan == [True]
    assert Recurrent("lstm", I, H).uses_fused == [True]
    assert Recurrent("jordan", I, H).uses_scan == [False]
    assert Recurrent("leaky", I, H, backend="loop").uses_scan == [False]
    # recurrent dropout (training only) sends the step to the loop; in evaluation scan and loop agree exactly
    a, b = twin("gru_before", "auto", "loop", recurrent_dropout=0.5)
    x = torch.randn(2, 4, I, dtype=torch.float64)
    a.eval(), b.eval()
    torch.testing.assert_close(a(x)[0], b(x)[0], rtol=0, atol=1e-13)
    a.train()
    torch.manual_seed(5)
    y_train = a(x)[0]
    b.train()
    torch.manual_seed(5)
    torch.testing.assert_close(y_train, b(x)[0], rtol=0, atol=1e-13)  # same mask: the loop ran in both


@pytest.mark.parametrize(
    "cell, kwargs, match",
    [
        ("jordan", {}, "backend='scan' needs cells with a scan kernel"),
        ("lstm", {"proj_size": 2}, "backend='scan' needs cells with a scan kernel"),
        ("gru", {"delays": (1, 2)}, "no delays, recurrent dropout or zoneout"),
        ("gru", {"zoneout": 0.1}, "no delays, recurrent dropout or zoneout"),
    ],
)
def test_backend_scan_errors(cell, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Recurrent(cell, I, H, backend="scan", **kwargs)


def test_backend_name_error_lists_scan():
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'fused', 'scan', 'loop'\)"):
        Recurrent("lstm", I, H, backend="fast")


def test_paths_tell_what_runs_on_cpu_and_elsewhere():
    assert Recurrent("gru", I, H).paths("cpu", grad=True) == ["scan"]
    assert Recurrent("gru", I, H).paths("cpu", grad=True, batch=16) == ["scan"]
    assert Recurrent("gru", I, H).paths("cpu", grad=True, batch=17) == ["fused"]  # not reliably faster there
    assert Recurrent("elman", I, H).paths("cpu", grad=True, batch=512) == ["scan"]
    assert Recurrent("gru", I, H).paths("cpu", grad=False) == ["fused"]
    assert Recurrent("elman", I, H).paths("cpu", grad=False) == ["fused"]
    assert Recurrent("lstm", I, H, num_layers=2).paths("cpu") == ["fused", "fused"]
    assert Recurrent("gru", I, H, backend="fused").paths("cpu") == ["fused"]
    assert Recurrent("gru", I, H, backend="loop").paths("cpu") == ["loop"]
    assert Recurrent("gru", I, H, zoneout=0.1).paths("cpu") == ["loop"]
    assert Recurrent("leaky", I, H, delays=(1, 3)).paths("cpu") == ["loop"]
    assert Recurrent("gru_before", I, H).paths("cpu", grad=False) == ["scan"]
    assert Recurrent("jordan", I, H).paths("cpu") == ["loop"]
    assert Recurrent("gru", I, H).paths("meta") == ["fused"]  # other devices keep torch's kernel (cuDNN)
    rec = Recurrent("gru_before", I, H, recurrent_dropout=0.3)
    assert rec.paths("cpu") == ["loop"] and rec.eval().paths("cpu") == ["scan"]


@pytest.mark.parametrize("cell", ["gru", "elman"])
def test_auto_on_cpu_trains_through_scan_and_matches_the_fused_kernel(cell, monkeypatch):
    import unrolled.layers.recurrent as recurrent_module

    calls = []
    real_scan = recurrent_module.scan
    monkeypatch.setattr(recurrent_module, "scan", lambda *a, **k: calls.append(1) or real_scan(*a, **k))
    a, b = twin(cell, "auto", "fused", num_layers=2, bidirectional=True)
    x = torch.randn(3, 5, I, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 2, 4])
    ya, sa = a(x, lengths=lengths)
    assert len(calls) == 4  # two layers, two directions
    yb, sb = b(x, lengths=lengths)
    assert len(calls) == 4
    torch.testing.assert_close(ya, yb, rtol=0, atol=1e-13)
    ga = torch.autograd.grad(ya.pow(2).sum() + torch.stack(sa).sum(), [x, *a.parameters()])
    gb = torch.autograd.grad(yb.pow(2).sum() + torch.stack(sb).sum(), [x, *b.parameters()])
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=0, atol=1e-12)
    with torch.no_grad():
        a(x)
    assert len(calls) == 4  # inference keeps torch's kernel


@pytest.mark.parametrize("T", [16, 17, 35])
@pytest.mark.parametrize("name", ONE_PER_KERNEL)
def test_scan_matches_loop_across_chunks_of_steps(name, T):
    """The backward computes its factors (and LayerNormLSTM its dW_hh) in chunks of 16 steps: one full chunk,
    a partial one after a full one, and several."""
    cell = make(name, seed=6)
    x = torch.randn(T, 2, I, dtype=torch.float64, requires_grad=True)
    s0 = random_state(cell, 2)
    _, _, g1 = run_and_grad(lambda xp, s: unroll_plain(cell, xp, s), cell, x, s0)
    _, _, g2 = run_and_grad(lambda xp, s: scan(cell, xp, s), cell, x, s0)
    for a, b in zip(g2, g1):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("name", ONE_PER_KERNEL)
def test_scan_matches_loop_when_the_recurrent_weight_is_copied_transposed(name):
    """With B >= 8 and T >= 32 the forward multiplies by a contiguous copy of W_hh^T (not a view)."""
    T, B = 40, 8
    W = torch.zeros(3, 2)
    assert transposed(W, T, B).is_contiguous() and not transposed(W, 31, B).is_contiguous()
    cell = make(name, seed=10)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    s0 = random_state(cell, B)
    y1, s1, g1 = run_and_grad(lambda xp, s: unroll_plain(cell, xp, s), cell, x, s0)
    y2, s2, g2 = run_and_grad(lambda xp, s: scan(cell, xp, s), cell, x, s0)
    for a, b in zip((y2, *s2, *g2), (y1, *s1, *g1)):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)
