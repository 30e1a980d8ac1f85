"""Run folders and atomic, pickle-free checkpoints.

Layout of a run folder::

    run_dir/
      config.json                 resolved configuration ({"train": {...}, plus the caller's extra sections})
      metrics.csv | metrics.jsonl one row per log event
      loss.png                    loss curves
      best/model.safetensors      weights with the best validation loss so far (+ best/meta.json)
      checkpoint/                 the latest complete checkpoint:
        model.safetensors           weights (tied / shared parameters stored once, see below)
        <part>.json                 structure and non-tensor values of each part
        <part>.safetensors          tensors of each part that has any
      tensorboard/                optional

The trainer's parts are ``optimizer`` (the ``state_dict`` of the torch optimizer), ``scheduler``, ``rng`` (every
generator, one entry per rank), ``state`` (the carried recurrent state, one entry per rank) and ``progress``
(position, counters, history). Everything goes through :mod:`unrolled.train.serialize`: no pickle anywhere.

**Atomicity.** A checkpoint is first written completely to ``checkpoint.tmp-XXXX/`` (each file fsynced); then
``checkpoint/`` is renamed to ``checkpoint.old/``, the new folder renamed to ``checkpoint/`` and the old one removed.
At every instant either ``checkpoint/`` or ``checkpoint.old/`` holds a complete checkpoint, and
:func:`find_checkpoint` picks whichever is there, so a crash at any point leaves the last good checkpoint loadable.

**Weights.** ``model.safetensors`` holds the module's ``state_dict``; entries that are the same tensor (tied input
and output embeddings) are stored once and listed under the ``unrolled.aliases`` metadata key. Loading checks
every name and shape against the model before touching it and reports a mismatch in one line.

Example::

    >>> save_model_weights(model, "runs/lm/best/model.safetensors")
    >>> load_model_weights(model, "runs/lm/best/model.safetensors")
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from unrolled._fs import make_temp_dir, open_temp_file
from unrolled.train.errors import CheckpointError
from unrolled.train.serialize import flatten_tree, unflatten_tree

__all__ = [
    "CHECKPOINT_DIR",
    "WEIGHTS_FILE",
    "find_checkpoint",
    "load_checkpoint",
    "load_model_weights",
    "read_json",
    "save_checkpoint",
    "save_model_weights",
    "save_safetensors",
    "write_json",
]

CHECKPOINT_DIR = "checkpoint"
WEIGHTS_FILE = "model.safetensors"
_OLD_SUFFIX = ".old"
_TMP_PREFIX = f"{CHECKPOINT_DIR}.tmp-"
_ALIASES_KEY = "unrolled.aliases"
_FORMAT = 1


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_file(tmp: Path, path: Path) -> None:
    _fsync(tmp)
    os.replace(tmp, path)


def save_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` as a safetensors file with the normal file permissions (``safetensors.torch.save_file``
    creates its files readable by their owner only)."""
    Path(path).write_bytes(safetensors_bytes(tensors, metadata=metadata))


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    _replace_file(tmp, path)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (a temporary file beside it + ``os.replace``): a reader or a
    crash never sees half a file, and an existing file is only replaced once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = open_temp_file(path.parent, path.name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        _replace_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing or malformed file raises a one-line :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({str(err).splitlines()[0]})") from None


#: in a folder, the sha256 of each file written there, recorded when written and checked when read
DIGESTS_FILE = "digests.json"


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_digest(path: str | os.PathLike, digest: str | None = None) -> str:
    """Record the sha256 of the file ``path`` (``digest`` when the writer already has it, else read from the file)
    in its folder's ``digests.json`` (atomically); returns it."""
    path = Path(path)
    book = path.parent / DIGESTS_FILE
    digests = read_json(book) if book.is_file() else {}
    if not isinstance(digests, dict):
        digests = {}
    digests[path.name] = digest if digest is not None else file_sha256(path)
    write_json(book, digests)
    return digests[path.name]


def verify_digest(path: str | os.PathLike) -> None:
    """Check the file ``path`` against the sha256 recorded in its folder's ``digests.json`` when it was written (a
    file with no recorded digest, e.g. from an older run, is accepted); one-line :class:`CheckpointError` else."""
    path = Path(path)
    book = path.parent / DIGESTS_FILE
    if not book.is_file():
        return
    digests = read_json(book)
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        raise CheckpointError(f"{book}: expected {{file name: sha256}}")
    expected = digests.get(path.name)
    if expected is not None and path.is_file() and file_sha256(path) != expected:
        raise CheckpointError(
            f"{path}: its content changed since it was written (sha256 differs from {book}); the file is damaged or "
            "was edited, so it is not used"
        )


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as err:  # safetensors raises its own error types for every kind of corruption
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: not a readable safetensors file ({message})") from None
    return tensors, metadata


def _shape(shape: Any) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def save_model_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Write ``model.state_dict()`` to a safetensors file atomically.

    Entries that are the very same tensor (same storage, offset, shape and strides, e.g. tied embeddings) are
    stored once; the others are recorded as aliases in the file's metadata.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    storages: set[int] = set()
    for name, tensor in model.state_dict().items():
        ptr = tensor.untyped_storage().data_ptr()
        view = (tensor.device, ptr, tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()))
        if ptr != 0 and view in seen:
            aliases[name] = seen[view]
            continue
        seen[view] = name
        stored = tensor.detach().cpu().contiguous()
        stored_ptr = stored.untyped_storage().data_ptr()
        if stored_ptr != 0 and stored_ptr in storages:  # distinct views of one buffer: store a copy
            stored = stored.clone()
            stored_ptr = stored.untyped_storage().data_ptr()
        storages.add(stored_ptr)
        tensors[name] = stored
    data = safetensors_bytes(tensors, metadata={"format": "pt", _ALIASES_KEY: json.dumps(aliases)})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    _replace_file(tmp, path)
    record_digest(path, hashlib.sha256(data).hexdigest())  # from the bytes in hand: no second read of the file


def _checked_state_dict(model: nn.Module, path: Path) -> dict[str, torch.Tensor]:
    verify_digest(path)
    tensors, metadata = _read_safetensors(path)
    try:
        aliases = json.loads(metadata.get(_ALIASES_KEY, "{}"))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: metadata {_ALIASES_KEY!r} is not valid JSON") from None
    for name, target in aliases.items():
        if target not in tensors:
            raise CheckpointError(f"{path}: alias {name!r} points to {target!r}, which the file does not hold")
        tensors[name] = tensors[target]
    expected = model.state_dict()
    missing = [name for name in expected if name not in tensors]
    if missing:
        raise CheckpointError(f"{path}: the model's parameters {_names(missing)} are missing from the file")
    unexpected = [name for name in tensors if name not in expected]
    if unexpected:
        raise CheckpointError(f"{path}: the file holds {_names(unexpected)}, which the model does not have")
    for name, tensor in expected.items():
        if tuple(tensors[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: parameter {name!r} has shape {_shape(tensors[name].shape)} in the file but "
                f"{_shape(tensor.shape)} in the model"
            )
        value = tensors[name]
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{path}: parameter {name!r} holds NaN or infinite values; these weights are unusable (the file is "
                "damaged, or was saved from a diverged model)"
            )
    return tensors


def load_model_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load weights written by :func:`save_model_weights` into ``model`` (in place).

    Raises:
        CheckpointError: the file is missing or corrupt, or its names / shapes do not match the model's.
    """
    path = Path(path)
    state = _checked_state_dict(model, path)
    model.load_state_dict(state, strict=True)


def find_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The latest complete checkpoint folder of ``run_dir`` (``checkpoint/``, else ``checkpoint.old/`` left by a
    crash between the two renames), or ``None``."""
    run_dir = Path(run_dir)
    for candidate in (run_dir / CHECKPOINT_DIR, run_dir / (CHECKPOINT_DIR + _OLD_SUFFIX)):
        if candidate.is_dir():
            return candidate
    return None


def _write_part(folder: Path, name: str, value: Any) -> None:
    spec, tensors = flatten_tree(value, prefix=f"{name}.")
    if tensors:
        save_safetensors(folder / f"{name}.safetensors", tensors, {"format": "pt"})
    (folder / f"{name}.json").write_text(
        json.dumps({"format": _FORMAT, "tensors": bool(tensors), "tree": spec}) + "\n", encoding="utf-8"
    )


def _read_part(folder: Path, name: str) -> Any:
    path = folder / f"{name}.json"
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != _FORMAT or "tree" not in data:
        raise CheckpointError(f"{path}: expected a checkpoint part with format {_FORMAT}")
    tensors: dict[str, torch.Tensor] = {}
    if data.get("tensors"):
        verify_digest(folder / f"{name}.safetensors")
        tensors, _ = _read_safetensors(folder / f"{name}.safetensors")
    return unflatten_tree(data["tree"], tensors, source=str(path))


def save_checkpoint(run_dir: str | os.PathLike, model: nn.Module, parts: Mapping[str, Any]) -> Path:
    """Write ``model``'s weights and each of ``parts`` as ``run_dir/checkpoint/``, atomically.

    Args:
        run_dir: run folder (created if needed).
        model: module whose ``state_dict`` is saved to ``model.safetensors``.
        parts: ``{name: tree}``; each tree is saved as ``name.json`` (+ ``name.safetensors``).

    Returns:
        The path of the new checkpoint folder.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob(_TMP_PREFIX + "*"):  # left by a crash during an earlier save
        shutil.rmtree(stale, ignore_errors=True)
    tmp = make_temp_dir(run_dir, _TMP_PREFIX)
    try:
        save_model_weights(model, tmp / WEIGHTS_FILE)
        for name, value in parts.items():
            _write_part(tmp, name, value)
            for written in (tmp / f"{name}.json", tmp / f"{name}.safetensors"):
                if written.is_file():
                    record_digest(written)
        for file in tmp.iterdir():
            _fsync(file)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = run_dir / CHECKPOINT_DIR
    old = run_dir / (CHECKPOINT_DIR + _OLD_SUFFIX)
    if final.is_dir():
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp, final)
    _fsync(run_dir)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: str | os.PathLike, model: nn.Module, parts: tuple[str, ...]) -> tuple[Path, dict[str, Any]]:
    """Load a checkpoint into ``model`` and return its folder and ``{name: tree}`` for each of ``parts``.

    Args:
        path: a run folder (its latest checkpoint is used) or a checkpoint folder.
        model: module to load the weights into; nothing is modified unless every check passes.
        parts: names of the parts to read.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: a file is missing or corrupt, or the weights do not match the model.
    """
    path = Path(path)
    folder = path if (path / WEIGHTS_FILE).is_file() else find_checkpoint(path)
    if folder is None:
        raise FileNotFoundError(f"no checkpoint in {path}: expected {path / CHECKPOINT_DIR}/ written by a run")
    missing = [f for f in (WEIGHTS_FILE, *(f"{name}.json" for name in parts)) if not (folder / f).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint {folder} is incomplete: missing {', '.join(missing)}")
    for name in parts:
        verify_digest(folder / f"{name}.json")
    loaded = {name: _read_part(folder, name) for name in parts}
    state = _checked_state_dict(model, folder / WEIGHTS_FILE)
    model.load_state_dict(state, strict=True)
    return folder, loaded
