"""Flat weights: each fused layer's weights are views into one buffer in torch.nn.RNNBase's order, and stay so
(or are gathered again) through .to(), load_state_dict, from_torch/to_torch, optimizer steps, replacement,
pickling and deepcopy, with the same values, outputs and gradients as torch.nn and the unflattened path."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

import unrolled.layers.flat_weights as flat_weights
from unrolled.layers import Recurrent
from unrolled.layers.fused import kernel_weights
from unrolled.layers.weight_drop import weight_drop

I, H, B, T = 3, 5, 2, 4

CONFIGS = {
    "lstm 2 layers bidirectional": dict(cell="lstm", num_layers=2, bidirectional=True),
    "gru 2 layers": dict(cell="gru", num_layers=2),
    "elman tanh": dict(cell="elman"),
    "elman relu bidirectional": dict(cell="elman", nonlinearity="relu", bidirectional=True),
    "lstm projection bidirectional": dict(cell="lstm", proj_size=3, bidirectional=True),
    "lstm without bias": dict(cell="lstm", bias=False, num_layers=2),
}
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}


def build(name: str, seed: int = 0, backend: str = "fused") -> Recurrent:
    kwargs = dict(CONFIGS[name])
    cell = kwargs.pop("cell")
    torch.manual_seed(seed)
    return Recurrent(cell, I, H, backend=backend, **kwargs)


def layer_cells(rec: Recurrent, layer: int) -> list:
    D = rec.num_directions
    return list(rec.cells[layer * D : (layer + 1) * D])


def storage_ptr(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def assert_flat(rec: Recurrent) -> None:
    """Every layer: one storage holding exactly its weights, packed from offset 0 in nn.RNNBase's order (checked
    against the names and shapes of the equivalent torch.nn module's own _flat_weights)."""
    module = rec.to_torch()
    assert rec.flat_layers() == [True] * rec.num_layers
    for layer in range(rec.num_layers):
        weights = kernel_weights(layer_cells(rec, layer))
        torch_names = [n for n in module._flat_weights_names if f"_l{layer}" in n]
        assert [tuple(w.shape) for w in weights] == [tuple(getattr(module, n).shape) for n in torch_names]
        offset = 0
        for w in weights:
            assert isinstance(w, nn.Parameter) and w.is_leaf and w.is_contiguous()
            assert storage_ptr(w) == storage_ptr(weights[0])
            assert w.storage_offset() == offset
            offset += w.numel()
        assert weights[0].untyped_storage().nbytes() == offset * weights[0].element_size()


def run_both(rec: Recurrent, module: nn.Module, x: torch.Tensor, lengths=None):
    """Outputs, final states, input and parameter gradients of ``rec`` and ``module`` for the same upstream
    gradient; the parameter gradients are keyed by torch.nn's names."""
    results = []
    for net in (rec, module):
        xi = x.clone().requires_grad_(True)
        if net is rec:
            y, state = rec(xi, lengths=lengths)
            state = rec.state_to_torch(state)
        elif lengths is None:
            y, state = net(xi)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(xi, lengths, batch_first=True, enforce_sorted=False)
            y, state = net(packed)
            y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        state = state if isinstance(state, tuple) else (state,)
        gen = torch.Generator().manual_seed(1)
        up = torch.randn(y.shape, generator=gen, dtype=y.dtype)
        grads = torch.autograd.grad((y * up).sum() + sum(s.sum() for s in state), [xi, *net.parameters()])
        if net is rec:
            names = [_torch_name(rec, n) for n, _ in rec.named_parameters()]
        else:
            names = [n for n, _ in net.named_parameters()]
        results.append((y.detach(), [s.detach() for s in state], grads[0], dict(zip(names, grads[1:]))))
    return results


def _torch_name(rec: Recurrent, name: str) -> str:
    _, index, param = name.split(".")
    layer, direction = divmod(int(index), rec.num_directions)
    return f"{param}_l{layer}" + ("_reverse" if direction else "")


def assert_same(a, b, tol: float) -> None:
    (ya, sa, gxa, gpa), (yb, sb, gxb, gpb) = a, b
    torch.testing.assert_close(ya, yb, atol=tol, rtol=0)
    for s, t in zip(sa, sb):
        torch.testing.assert_close(s, t, atol=tol, rtol=0)
    torch.testing.assert_close(gxa, gxb, atol=tol, rtol=0)
    assert gpa.keys() == gpb.keys()
    for k in gpa:
        torch.testing.assert_close(gpa[k], gpb[k], atol=tol, rtol=0)


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("backend", ["fused", "auto"])
def test_a_new_layer_is_flat_with_the_values_names_and_state_dict_of_the_unflattened_one(name, backend):
    rec = build(name, backend=backend)
    plain = build(name, backend="loop")  # same seed, never flattened: what the layer was before
    assert_flat(rec)
    assert plain.flat_layers() == [False] * plain.num_layers
    assert [n for n, _ in rec.named_parameters()] == [n for n, _ in plain.named_parameters()]
    a, b = rec.state_dict(), plain.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_outputs_and_gradients_equal_torch_nn_and_the_unflattened_path(name, dtype):
    rec = build(name).to(dtype)
    assert_flat(rec)
    module = rec.to_torch()  # torch.nn on CPU keeps separate tensors: the unflattened kernel call
    plain = build(name, seed=99, backend="loop").to(dtype)
    plain.load_state_dict(rec.state_dict())
    x = torch.randn(B, T, I, dtype=dtype)
    ours, theirs = run_both(rec, module, x)
    assert_same(ours, theirs, TOL[dtype])
    loop, _ = run_both(plain, module, x)
    assert_same(ours, loop, 1e-5 if dtype == torch.float32 else 1e-12)  # another kernel: rounding differs
    lengths = torch.tensor([T, 2])
    assert_same(*run_both(rec, module, x, lengths), TOL[dtype])
    assert_flat(rec)  # forward and backward leave the views alone


def test_to_float64_keeps_the_parameter_objects_and_values_and_flattens_again():
    rec = build("lstm 2 layers bidirectional")
    before = {n: (p, p.detach().clone()) for n, p in rec.named_parameters()}
    rec.to(torch.float64)
    assert_flat(rec)
    for n, p in rec.named_parameters():
        assert p is before[n][0] and p.dtype == torch.float64
        assert torch.equal(p.detach(), before[n][1].double())
    rec.double()  # nothing to convert: nothing moves
    ptrs = [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(rec.num_layers)]
    assert ptrs == [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(rec.num_layers)]


@pytest.mark.parametrize("name", ["lstm 2 layers bidirectional", "gru 2 layers", "elman relu bidirectional"])
def test_load_state_dict_copies_into_the_views_and_assign_is_flattened_again(name):
    rec, source = build(name), build(name, seed=7)
    buffers = [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(rec.num_layers)]
    rec.load_state_dict(source.state_dict())
    assert_flat(rec)
    assert buffers == [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(rec.num_layers)]
    for (n, p), (m, q) in zip(rec.named_parameters(), source.named_parameters()):
        assert n == m and torch.equal(p, q)

    other = build(name, seed=8)
    rec.load_state_dict({k: v.clone() for k, v in other.state_dict().items()}, assign=True)
    assert_flat(rec)
    for (_, p), (_, q) in zip(rec.named_parameters(), other.named_parameters()):
        assert torch.equal(p, q)
    x = torch.randn(B, T, I)
    assert_same(*run_both(rec, other.to_torch(), x), 1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
def test_from_torch_is_flat_and_to_torch_leaves_the_layer_flat(kind, dtype):
    torch.manual_seed(3)
    module = kind(I, H, num_layers=2, bidirectional=True, batch_first=True).to(dtype)
    rec = Recurrent.from_torch(module, backend="fused")
    assert_flat(rec)
    assert_same(*run_both(rec, module, torch.randn(B, T, I, dtype=dtype)), TOL[dtype])
    back = rec.to_torch()
    assert_flat(rec)
    for (_, p), (_, q) in zip(back.named_parameters(), module.named_parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("optimizer", [torch.optim.SGD, torch.optim.Adam])
@pytest.mark.parametrize("name", ["lstm 2 layers bidirectional", "gru 2 layers", "elman tanh"])
def test_optimizer_steps_update_in_place_and_equal_torch_nn(optimizer, name):
    rec = build(name).double()
    module = rec.to_torch()
    buffers = [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(rec.num_layers)]
    opts = [optimizer(net.parameters(), lr=0.1) for net in (rec, module)]
    x = torch.randn(B, T, I, dtype=torch.float64)
    for _ in range(3):
        for net, opt in zip((rec, module), opts):
            opt.zero_grad()
            y, _ = net(x)
            (y**2).sum().backward()
            opt.step()
    assert_flat(rec)
    assert buffers == [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(rec.num_layers)]
    ours = {_torch_name(rec, n): p for n, p in rec.named_parameters()}
    for n, q in module.named_parameters():
        torch.testing.assert_close(ours[n], q, atol=1e-12, rtol=0)
        assert not torch.equal(ours[n], build(name).double().state_dict()[_our_name(rec, n)])  # it did move


def _our_name(rec: Recurrent, torch_name: str) -> str:
    param, rest = torch_name.rsplit("_l", 1)
    layer = int(rest.split("_")[0])
    return f"cells.{layer * rec.num_directions + rest.endswith('_reverse')}.{param}"


@pytest.mark.parametrize("where", [(0, "weight_hh"), (3, "bias_ih"), (2, "weight_ih")])
def test_a_replaced_parameter_gives_correct_results_and_is_flattened_again(where):
    index, attr = where
    rec = build("lstm 2 layers bidirectional")
    old = getattr(rec.cells[index], attr)
    new = nn.Parameter(torch.randn_like(old))
    setattr(rec.cells[index], attr, new)
    layer = index // rec.num_directions
    assert rec.flat_layers()[layer] is False
    module = rec.to_torch()  # built from the replaced weight
    assert_same(*run_both(rec, module, torch.randn(B, T, I)), 1e-6)
    assert getattr(rec.cells[index], attr) is new  # the user's parameter, now a view into the layer's buffer
    assert_flat(rec)
    assert_same(*run_both(rec, module, torch.randn(B, T, I)), 1e-6)


def test_replacement_seen_under_inference_mode_leaves_parameters_trainable():
    rec = build("gru 2 layers")
    rec.cells[1].weight_hh = nn.Parameter(torch.randn(3 * H, H))
    module = rec.to_torch()
    x = torch.randn(B, T, I)
    with torch.inference_mode():
        y, _ = rec(x)
    assert_flat(rec)
    torch.testing.assert_close(y, module(x)[0], atol=1e-6, rtol=0)
    assert not any(p.is_inference() for p in rec.parameters())
    assert_same(*run_both(rec, module, x), 1e-6)


def test_weights_that_alias_are_not_flattened_and_still_give_correct_results():
    rec = build("lstm 2 layers bidirectional")
    rec.cells[1].weight_ih = rec.cells[0].weight_ih  # tied directions: one tensor cannot be two views
    x = torch.randn(B, T, I)
    y, _ = rec(x)
    assert rec.flat_layers() == [False, True]
    with torch.no_grad():
        torch.testing.assert_close(y, rec.to_torch()(x)[0], atol=1e-6, rtol=0)


def test_weight_drop_runs_flat_in_evaluation_and_masked_tensors_in_training():
    rec = build("lstm 2 layers bidirectional")
    weight_drop(rec, 0.5)
    x = torch.randn(B, T, I)
    rec.eval()
    y, _ = rec(x)
    assert rec.flat_layers() == [True, True]
    buffers = [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(2)]
    with torch.no_grad():
        torch.testing.assert_close(y, rec.to_torch()(x)[0], atol=1e-6, rtol=0)
    rec.train()
    torch.manual_seed(5)
    y, _ = rec(x)  # weight_hh is raw * mask now: a plain tensor, used as it is
    assert rec.flat_layers() == [False, False]
    assert all(torch.count_nonzero(m) < m.numel() for m in rec._weight_drop.masks)
    with torch.no_grad():
        torch.testing.assert_close(y, rec.to_torch()(x)[0], atol=1e-6, rtol=0)  # to_torch reads the masked ones
    rec.eval()
    rec(x)
    assert_flat(rec)
    assert buffers == [storage_ptr(kernel_weights(layer_cells(rec, layer))[0]) for layer in range(2)]  # not copied


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_are_flat_in_their_own_buffers_with_equal_values_and_outputs(how):
    rec = build("lstm 2 layers bidirectional")
    twin = copy.deepcopy(rec) if how == "deepcopy" else pickle.loads(pickle.dumps(rec))
    assert_flat(twin)
    for layer in range(rec.num_layers):
        ours, theirs = (kernel_weights(layer_cells(r, layer))[0] for r in (rec, twin))
        assert storage_ptr(ours) != storage_ptr(theirs)
    a, b = rec.state_dict(), twin.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(B, T, I)
    assert_same(*run_both(rec, rec.to_torch(), x), 1e-6)
    assert_same(*run_both(twin, rec.to_torch(), x), 1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [dict(cell="lstm", backend="loop"), dict(cell="gru", backend="scan"), dict(cell="lstm", peephole=True)],
)
def test_layers_that_never_run_fused_keep_their_separate_parameters(kwargs):
    kwargs = dict(kwargs)
    rec = Recurrent(kwargs.pop("cell"), I, H, **kwargs)
    assert rec.flat_layers() == [False]
    ptrs = [storage_ptr(p) for p in rec.parameters()]
    assert len(set(ptrs)) == len(ptrs)
    assert all(p.storage_offset() == 0 for p in rec.parameters())


def test_on_cuda_the_layout_comes_from_cudnn_with_each_layers_geometry(monkeypatch):
    """The CUDA branch, wired on the CPU: cuDNN's flatten is called once per layer with that layer's sizes and
    one layer per call (each fused call reads its own buffer from offset 0), and its views are what is recorded."""
    calls = []

    def fake_cudnn_flatten(weights, per_direction, input_size, mode, hidden, proj, layers, batch_first, bidir):
        calls.append((len(weights), per_direction, input_size, mode, hidden, proj, layers, batch_first, bidir))
        flat_weights._flatten_plain(weights)

    monkeypatch.setattr(flat_weights, "cudnn_usable", lambda weights: True)
    monkeypatch.setattr(torch, "_cudnn_rnn_flatten_weight", fake_cudnn_flatten)
    monkeypatch.setattr(torch.backends.cudnn.rnn, "get_cudnn_mode", lambda mode: f"cudnn {mode}")
    rec = Recurrent("lstm", I, H, num_layers=2, bidirectional=True, proj_size=3, backend="fused")
    assert calls == [
        (10, 5, I, "cudnn LSTM", H, 3, 1, False, True),
        (10, 5, 2 * 3, "cudnn LSTM", H, 3, 1, False, True),
    ]
    assert_flat(rec)
    calls.clear()
    Recurrent("gru", I, H, bias=False, backend="fused")
    assert calls == [(2, 2, I, "cudnn GRU", H, 0, 1, False, False)]
