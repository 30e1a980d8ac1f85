import json
import os
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from unrolled.train import (
    CheckpointError,
    find_checkpoint,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
    save_model_weights,
)
from unrolled.train import checkpoint as checkpoint_module
from unrolled.train.serialize import flatten_tree, register_state_type, unflatten_tree

Pair = register_state_type(namedtuple("Pair", ["h", "c"]))


class Tied(nn.Module):
    def __init__(self, vocab=5, hidden=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.RNN(hidden, hidden)
        self.head = nn.Linear(hidden, vocab)
        self.head.weight = self.embed.weight


def _randomized(module, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
    return module


def test_weights_round_trip_bitwise_and_tied_weights_stored_once(tmp_path):
    source = _randomized(Tied(), 0)
    path = tmp_path / "w.safetensors"
    save_model_weights(source, path)
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
        aliases = json.loads(f.metadata()["unrolled.aliases"])
    assert aliases == {"head.weight": "embed.weight"} and "head.weight" not in keys
    target = _randomized(Tied(), 1)
    load_model_weights(target, path)
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor), name
    assert target.head.weight is target.embed.weight  # tying survives loading
    assert not list(tmp_path.glob("*.tmp"))


def test_weights_errors_name_the_file_and_the_mismatch(tmp_path):
    path = tmp_path / "w.safetensors"
    with pytest.raises(CheckpointError, match=r"w.safetensors: file is missing"):
        load_model_weights(Tied(), path)
    save_model_weights(Tied(hidden=3), path)
    with pytest.raises(CheckpointError, match=r"parameter 'embed.weight' has shape \(5, 3\) in the file but \(5, 4\)"):
        load_model_weights(Tied(hidden=4), path)

    class Extra(Tied):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

    with pytest.raises(CheckpointError, match=r"the model's parameters 'scale' are missing from the file"):
        load_model_weights(Extra(), path)
    save_model_weights(Extra(), path)
    with pytest.raises(CheckpointError, match=r"the file holds 'scale', which the model does not have"):
        load_model_weights(Tied(), path)

    path.write_bytes(path.read_bytes()[:40])  # truncated: the digest recorded when it was written catches it first
    with pytest.raises(CheckpointError, match=r"w.safetensors: its content changed since it was written"):
        load_model_weights(Tied(), path)
    (tmp_path / "digests.json").unlink()  # a file without a recorded digest (an older run) is read and judged
    with pytest.raises(CheckpointError, match=r"w.safetensors: not a readable safetensors file \(") as info:
        load_model_weights(Tied(), path)
    assert "\n" not in str(info.value)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"not a readable safetensors file"):
        load_model_weights(Tied(), path)


def test_serialize_round_trips_optimizer_state_and_odd_containers():
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.8, 0.9))
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    keys = np.arange(5, dtype=np.uint32) * 1_000_000_000
    tree = {"opt": state, "pair": Pair(torch.ones(2), None), "np": keys, "scalar": np.float64(0.5), "inf": float("inf")}
    spec, tensors = flatten_tree(tree, prefix="x.")
    spec = json.loads(json.dumps(spec))  # through JSON, as on disk
    back = unflatten_tree(spec, tensors)
    assert set(back["opt"]["state"]) == {0, 1}  # int keys restored
    for index in (0, 1):
        for name, value in state["state"][index].items():
            assert torch.equal(back["opt"]["state"][index][name], value)
    assert back["opt"]["param_groups"] == state["param_groups"]
    assert isinstance(back["pair"], Pair) and back["pair"].c is None
    assert back["np"].dtype == np.uint32 and np.array_equal(back["np"], keys)
    assert back["scalar"] == 0.5 and back["inf"] == float("inf")
    # the very same tensor twice is stored as two independent tensors (safetensors refuses shared memory)
    t = torch.arange(3.0)
    _, tensors = flatten_tree([t, t])
    assert tensors["0"].data_ptr() != tensors["1"].data_ptr()


def test_serialize_errors():
    with pytest.raises(CheckpointError, match=r"cannot save \.thing: unsupported type object"):
        flatten_tree({"thing": object()})
    with pytest.raises(CheckpointError, match=r"refuses to rebuild named tuple 'os:path': not a registered state"):
        unflatten_tree({"__namedtuple__": "os:path", "items": []}, {})
    with pytest.raises(CheckpointError, match=r"refuses to rebuild named tuple 'no_such_module:X'"):
        unflatten_tree({"__namedtuple__": "no_such_module:X", "items": []}, {})
    with pytest.raises(CheckpointError, match=r"named tuple .*Unregistered is not a registered state type"):
        flatten_tree({"s": namedtuple("Unregistered", ["h"])(torch.ones(1))})


def test_loading_never_imports_a_module_named_in_the_file(tmp_path, monkeypatch):
    """A crafted checkpoint naming a module of the current directory must not make the loader import (run) it."""
    import sys

    (tmp_path / "planted_module.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('ran').write_text('x')\nimport collections\n"
        "T = collections.namedtuple('T', ['a'])\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CheckpointError, match="refuses to rebuild named tuple 'planted_module:T'"):
        unflatten_tree({"__namedtuple__": "planted_module:T", "items": [1]}, {})
    assert "planted_module" not in sys.modules and not (tmp_path / "ran").exists()
    with pytest.raises(CheckpointError, match=r"f.json: tensor 'k' is missing"):
        unflatten_tree({"__tensor__": "k"}, {}, source="f.json")


def _parts(value):
    return {"progress": {"step": value}, "state": [(torch.full((2,), float(value)), None)]}


def _load(run_dir, seed=9):
    model = _randomized(Tied(), seed)
    folder, parts = load_checkpoint(run_dir, model, ("progress", "state"))
    return folder, parts, model


def test_checkpoint_round_trip(tmp_path):
    model = _randomized(Tied(), 3)
    folder = save_checkpoint(tmp_path, model, _parts(7))
    assert folder == tmp_path / "checkpoint" and find_checkpoint(tmp_path) == folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "digests.json",
        "model.safetensors",
        "progress.json",
        "state.json",
        "state.safetensors",
    ]
    loaded_folder, parts, loaded = _load(tmp_path)
    assert loaded_folder == folder and parts["progress"] == {"step": 7}
    assert torch.equal(parts["state"][0][0], torch.full((2,), 7.0)) and parts["state"][0][1] is None
    assert torch.equal(loaded.rnn.weight_hh_l0, model.rnn.weight_hh_l0)


def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    first = _randomized(Tied(), 3)
    save_checkpoint(tmp_path, first, _parts(1))
    real_write_part = checkpoint_module._write_part
    calls = []

    def write_one_then_crash(folder, name, value):
        if calls:
            raise OSError("disk full")
        calls.append(name)
        real_write_part(folder, name, value)

    monkeypatch.setattr(checkpoint_module, "_write_part", write_one_then_crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, _randomized(Tied(), 4), _parts(2))
    assert calls == ["progress"]  # one file of the new checkpoint was written before the crash
    _, parts, loaded = _load(tmp_path)
    assert parts["progress"] == {"step": 1}
    assert torch.equal(loaded.embed.weight, first.embed.weight)
    assert not list(tmp_path.glob("checkpoint.tmp-*"))


def test_crash_between_the_two_renames_leaves_the_old_checkpoint_loadable(tmp_path, monkeypatch):
    first = _randomized(Tied(), 3)
    save_checkpoint(tmp_path, first, _parts(1))
    real_replace = os.replace

    def crash_on_final_rename(src, dst):
        if Path(src).name.startswith("checkpoint.tmp-") and Path(dst).name == "checkpoint":
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "replace", crash_on_final_rename)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, _randomized(Tied(), 4), _parts(2))
    monkeypatch.setattr(checkpoint_module.os, "replace", real_replace)
    assert not (tmp_path / "checkpoint").exists() and find_checkpoint(tmp_path) == tmp_path / "checkpoint.old"
    _, parts, loaded = _load(tmp_path)
    assert parts["progress"] == {"step": 1} and torch.equal(loaded.embed.weight, first.embed.weight)
    # the next save cleans up the leftovers
    save_checkpoint(tmp_path, first, _parts(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    assert _load(tmp_path)[1]["progress"] == {"step": 3}


def test_incomplete_or_corrupt_checkpoints_raise_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no checkpoint in .*: expected .*checkpoint/"):
        _load(tmp_path)
    model = _randomized(Tied(), 3)
    folder = save_checkpoint(tmp_path, model, _parts(1))
    (folder / "state.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"state.safetensors: its content changed since it was written"):
        load_checkpoint(tmp_path, Tied(), ("progress", "state"))
    (folder / "digests.json").unlink()  # without recorded digests (an older run) the reader judges the bytes
    with pytest.raises(CheckpointError, match=r"state.safetensors: not a readable safetensors file"):
        _load(tmp_path)
    save_checkpoint(tmp_path, model, _parts(1))
    (folder / "progress.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"progress.json: its content changed since it was written"):
        _load(tmp_path)
    (folder / "digests.json").unlink()
    with pytest.raises(CheckpointError, match=r"progress.json: not valid JSON \(Expecting property name"):
        _load(tmp_path)
    (folder / "progress.json").write_text('{"format": 99, "tree": {}}')
    with pytest.raises(CheckpointError, match=r"progress.json: expected a checkpoint part with format 1"):
        _load(tmp_path)
    (folder / "progress.json").unlink()
    with pytest.raises(CheckpointError, match=r"checkpoint .* is incomplete: missing progress.json"):
        _load(tmp_path)
    save_checkpoint(tmp_path, model, _parts(1))
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"is incomplete: missing model.safetensors"):
        _load(tmp_path)
    save_checkpoint(tmp_path, Tied(hidden=4), _parts(1))
    with pytest.raises(CheckpointError, match=r"model.safetensors: parameter 'embed.weight' has shape \(5, 4\)"):
        _load(tmp_path)
