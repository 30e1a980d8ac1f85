"""Recurrent state trees: walk nested tuples / lists / dicts of tensors (and ``None``).

A recurrent *state* is whatever a recurrent module returns next to its output and accepts back on the next call:
a tensor ``h`` of shape :math:`(L, B, H)` (Elman RNN, GRU), a tuple ``(h, c)`` (LSTM), a list with one entry per
layer, a dict, a named tuple, or ``None`` for "start from zeros". These helpers apply a function to every tensor of
such a tree and rebuild the same structure, so code that carries state between batches (truncated BPTT) never needs
to know which recurrent layer produced it.

Example::

    >>> h = torch.zeros(1, 2, 3, requires_grad=True)
    >>> state = (h * 2, [h + 1, None])
    >>> detached = detach_state(state)
    >>> detached[0].requires_grad, detached[1][1] is None
    (False, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["detach_state", "map_state"]


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: Any) -> Any:
    """Apply ``fn`` to every tensor of a state tree and rebuild the same structure.

    Args:
        fn: function applied to each tensor leaf; its result replaces the leaf.
        state: ``None``, a tensor, or a (nested) tuple / named tuple / list / dict of these.

    Returns:
        A tree with the same containers (named tuples keep their type, dicts their keys and order) whose tensor
        leaves are ``fn(leaf)``; ``None`` leaves stay ``None``.

    Raises:
        TypeError: if a leaf is neither a tensor nor ``None``.
    """
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, tuple):
        items = [map_state(fn, item) for item in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    if isinstance(state, list):
        return [map_state(fn, item) for item in state]
    if isinstance(state, dict):
        return type(state)((key, map_state(fn, value)) for key, value in state.items())
    raise TypeError(
        f"expected a recurrent state made of tensors, None, tuples, lists or dicts, got {type(state).__name__}"
    )


def detach_state(state: Any) -> Any:
    """Detach every tensor of a state tree from the autograd graph (truncated BPTT boundary).

    Gradients of later batches then stop at this state instead of flowing back into the batch that produced it
    (Williams & Peng, 1990, "An efficient gradient-based algorithm for on-line training of recurrent network
    trajectories").

    Args:
        state: ``None``, a tensor, or a (nested) tuple / named tuple / list / dict of these.

    Returns:
        The same structure with ``tensor.detach()`` leaves (values shared, no copy).
    """
    return map_state(torch.Tensor.detach, state)
