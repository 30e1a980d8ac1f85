"""Nonlinearities by name, resolved once when a cell is built.

:data:`ACTIVATIONS` maps every name to its function; which names a given place accepts is part of the registry
too: :data:`HIDDEN_ACTIVATIONS` for the hidden units of a cell (:math:`\\phi` of the Elman, leaky and Jordan cells),
:data:`OUTPUT_ACTIVATIONS` for an output read-out (:math:`\\psi` of the Jordan cell), where the identity (a linear
read-out) is allowed as well.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def identity(x: Tensor) -> Tensor:
    """The identity nonlinearity (a linear read-out)."""
    return x


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": identity,
}

#: names accepted for hidden units (Elman, leaky, Jordan :math:`\phi`)
HIDDEN_ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid")
#: names accepted for an output read-out (Jordan :math:`\psi`)
OUTPUT_ACTIVATIONS: tuple[str, ...] = ("identity", "tanh", "sigmoid", "relu")


def get_activation(
    name: str, allowed: tuple[str, ...] = HIDDEN_ACTIVATIONS, argument: str = "nonlinearity"
) -> Callable[[Tensor], Tensor]:
    """The function registered as ``name``; a one-line ValueError naming ``argument`` unless ``name`` is one of
    ``allowed``."""
    if not isinstance(name, str) or name not in allowed:
        prefix = "" if argument == "nonlinearity" else f"{argument}: "
        raise ValueError(f"{prefix}unknown nonlinearity {name!r}; expected one of {sorted(allowed)}")
    return ACTIVATIONS[name]
