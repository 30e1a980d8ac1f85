"""Pickle-free serialization of nested Python state: JSON for the structure, safetensors for the tensors.

:func:`flatten_tree` turns a tree of dicts / lists / tuples / named tuples / scalars / strings / ``None`` / tensors
/ NumPy arrays (an optimizer ``state_dict``, a recurrent state, RNG states, training progress) into

- a JSON-ready *spec* in which each tensor is replaced by ``{"__tensor__": key}``, and
- a flat ``{key: tensor}`` dict ready for ``safetensors.torch.save_file``;

:func:`unflatten_tree` inverts it. Tuples, named tuples, dicts with non-string keys (e.g. optimizer states keyed by
parameter index) and NumPy arrays are tagged so they come back with their type. Named tuples (e.g. a custom cell's
state) are saved by name and rebuilt only from an explicit registry (:func:`register_state_type`): loading never
imports a module named in the file, so it never runs code the way unpickling can.

Example::

    >>> spec, tensors = flatten_tree({"step": 3, "h": (torch.ones(2), None)}, prefix="state.")
    >>> spec
    {'step': 3, 'h': {'__tuple__': [{'__tensor__': 'state.0'}, None]}}
    >>> unflatten_tree(spec, tensors)["h"][0]
    tensor([1., 1.])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from unrolled.train.errors import CheckpointError

__all__ = ["STATE_TYPES", "flatten_tree", "register_state_type", "unflatten_tree"]

#: named-tuple classes that checkpoints may hold, by ``module:qualname``; nothing else is rebuilt
STATE_TYPES: dict[str, type] = {}


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register_state_type(cls: type) -> type:
    """Allow checkpoints to hold the named tuple class ``cls`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise TypeError(f"register_state_type expects a named tuple class, got {cls!r}")
    STATE_TYPES[_type_name(cls)] = cls
    return cls

_TAGS = ("__tensor__", "__tuple__", "__namedtuple__", "__items__", "__ndarray__")
# NumPy dtypes that torch / safetensors cannot hold are widened losslessly for storage.
_WIDEN = {np.dtype(np.uint32): np.int64, np.dtype(np.uint16): np.int32}


class _Flattener:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.tensors: dict[str, torch.Tensor] = {}
        self._storages: set[int] = set()

    def add(self, tensor: torch.Tensor) -> dict[str, str]:
        key = f"{self.prefix}{len(self.tensors)}"
        tensor = tensor.detach().cpu().contiguous()
        ptr = tensor.untyped_storage().data_ptr()
        if ptr != 0 and ptr in self._storages:  # safetensors refuses tensors that share memory
            tensor = tensor.clone()
            ptr = tensor.untyped_storage().data_ptr()
        self._storages.add(ptr)
        self.tensors[key] = tensor
        return {"__tensor__": key}

    def encode(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, torch.Tensor):
            return self.add(obj)
        if isinstance(obj, np.ndarray):
            dtype = str(obj.dtype)
            return {
                "__ndarray__": self.add(torch.from_numpy(obj.astype(_WIDEN.get(obj.dtype, obj.dtype))))["__tensor__"],
                "dtype": dtype,
            }
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, tuple):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
            if hasattr(obj, "_fields"):
                name = _type_name(type(obj))
                if STATE_TYPES.get(name) is not type(obj):
                    raise CheckpointError(
                        f"cannot save {where or 'value'}: named tuple {name} is not a registered state type "
                        "(register it with unrolled.train.serialize.register_state_type)"
                    )
                return {"__namedtuple__": name, "items": items}
            return {"__tuple__": items}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            if all(isinstance(k, str) and k not in _TAGS for k in obj):
                return {k: self.encode(v, f"{where}.{k}") for k, v in obj.items()}
            return {"__items__": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]}
        raise CheckpointError(
            f"cannot save {where or 'value'}: unsupported type {type(obj).__name__} "
            "(expected tensors, numbers, strings, None, lists, tuples or dicts)"
        )


def flatten_tree(obj: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split ``obj`` into a JSON-ready spec and a ``{key: tensor}`` dict (keys ``prefix0``, ``prefix1``, ...).

    Tensors are detached, moved to the CPU and made contiguous; tensors sharing memory are copied.
    """
    flattener = _Flattener(prefix)
    spec = flattener.encode(obj, "")
    return spec, flattener.tensors


def _namedtuple_class(path: Any, source: str) -> type:
    cls = STATE_TYPES.get(path) if isinstance(path, str) else None
    if cls is None:
        raise CheckpointError(
            f"{source}: refuses to rebuild named tuple {path!r}: not a registered state type (a checkpoint never "
            "names code to import)"
        )
    return cls


def unflatten_tree(spec: Any, tensors: dict[str, torch.Tensor], source: str = "checkpoint") -> Any:
    """Inverse of :func:`flatten_tree`; ``source`` names the file in error messages."""
    if spec is None or isinstance(spec, (bool, int, float, str)):
        return spec
    if isinstance(spec, list):
        return [unflatten_tree(v, tensors, source) for v in spec]
    if not isinstance(spec, dict):
        raise CheckpointError(f"{source}: unexpected entry of type {type(spec).__name__}")
    if "__tensor__" in spec:
        key = spec["__tensor__"]
        if key not in tensors:
            raise CheckpointError(f"{source}: tensor {key!r} is missing from the safetensors file")
        return tensors[key]
    if "__ndarray__" in spec:
        tensor = unflatten_tree({"__tensor__": spec["__ndarray__"]}, tensors, source)
        return tensor.numpy().astype(np.dtype(spec["dtype"]))
    if "__tuple__" in spec:
        return tuple(unflatten_tree(v, tensors, source) for v in spec["__tuple__"])
    if "__namedtuple__" in spec:
        cls = _namedtuple_class(spec["__namedtuple__"], source)
        return cls(*(unflatten_tree(v, tensors, source) for v in spec["items"]))
    if "__items__" in spec:
        return {unflatten_tree(k, tensors, source): unflatten_tree(v, tensors, source) for k, v in spec["__items__"]}
    return {k: unflatten_tree(v, tensors, source) for k, v in spec.items()}
