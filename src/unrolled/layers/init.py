r"""Initialisations of recurrent cells by name, the ones the literature uses against forgetting.

``initialize(module_or_recurrent, name, **options)`` re-initialises, in place, the parameters of the recurrent
cells inside a module (a cell, a :class:`~unrolled.layers.Recurrent`, or any model holding them) and returns the
module. ``name`` may carry one argument after a colon (``"uniform:0.1"``, ``"chrono:200"``). Names
(:data:`INITIALIZERS`):

* ``default``: each cell's own ``reset_parameters()`` (torch's U(-1/sqrt(H), 1/sqrt(H)), forget bias 1, ...).
* ``uniform:a``: every parameter of the module, cells or not, ~ U(-a, a) (Zaremba et al. 2014 use a = 0.1
  for the small model, 0.05 / 0.04 for the larger ones). This one alone also covers embeddings and output layers.
* ``orthogonal``: every recurrent matrix ``weight_hh``, gate block by gate block (H rows each), is a random
  orthogonal matrix (Saxe et al. 2014; Henaff et al. 2016): :math:`W_k^\top W_k = I` for each block k.
* ``identity`` (IRNN, Le et al. 2015): recurrent matrix :math:`W = g I` (``gain`` g, default 1), biases 0; for
  cells with one square recurrent block (Elman, leaky). Le et al. pair it with ReLU units.
* ``chrono:T_max`` (Tallec & Ollivier 2018, §4): LSTM forget bias :math:`b_f = \log(u)`,
  :math:`u \sim U(1, T_{max} - 1)`, input bias :math:`b_i = -b_f`; GRU (torch's convention
  :math:`h_t = (1 - z_t) n_t + z_t h_{t-1}`, so :math:`z` keeps the past like the LSTM forget gate) update
  bias :math:`b_z = \log(u)`. ``t_max`` defaults to the task's longest dependency, which you should pass.

Options: ``layers`` (indices of the layers of every :class:`~unrolled.layers.Recurrent` to touch; default all),
``generator`` (a ``torch.Generator`` for reproducible draws), ``a`` (uniform), ``gain`` (orthogonal, identity),
``t_max`` (chrono). A cell without what an initialisation needs (e.g. ``identity`` on an LSTM) gets a one-line
ValueError.

Example::

    >>> rnn = Recurrent("elman", 2, 128, nonlinearity="relu")
    >>> initialize(rnn, "identity")                        # IRNN
    >>> initialize(Recurrent("lstm", 2, 128), "chrono", t_max=200)
    >>> initialize(language_model, "uniform:0.1")          # every parameter, as Zaremba et al. 2014
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell
from unrolled.cells.bn_lstm import BatchNormLSTMCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.cells.lstm import LSTMCell
from unrolled.layers.recurrent import Recurrent

__all__ = ["INITIALIZERS", "initialize", "recurrent_cells"]

# cell type -> (gate kind, names of the bias vectors that add up in the gate pre-activations, the first one set)
_GATE_BIASES: dict[type, tuple[str, tuple[str, ...]]] = {
    LSTMCell: ("lstm", ("bias_ih", "bias_hh")),
    LayerNormLSTMCell: ("lstm", ("ln_ih.bias",)),
    BatchNormLSTMCell: ("lstm", ("bias",)),
    GRUCell: ("gru", ("bias_ih", "bias_hh")),
    LayerNormGRUCell: ("gru", ("ln_ih.bias",)),
}


def recurrent_cells(module: nn.Module, layers: Iterable[int] | None = None) -> list[RecurrentCell]:
    """The cells inside ``module`` (itself if a cell); with ``layers``, only those layers of each Recurrent."""
    if isinstance(module, RecurrentCell):
        return [module]
    wanted = None if layers is None else set(layers)
    cells: list[RecurrentCell] = []
    for m in module.modules():
        if isinstance(m, Recurrent):
            D = m.num_directions
            if wanted is not None and not wanted <= set(range(m.num_layers)):
                raise ValueError(f"layers: expected indices in 0..{m.num_layers - 1}, got {sorted(wanted)}")
            cells += [c for i, c in enumerate(m.cells) if wanted is None or i // D in wanted]
    if not cells:  # cells used outside any Recurrent
        cells = [m for m in module.modules() if isinstance(m, RecurrentCell)]
    if not cells:
        raise ValueError(f"initialize: expected a module holding recurrent cells, got {type(module).__name__}")
    return cells


def _param(cell: nn.Module, dotted: str) -> Tensor | None:
    obj: Any = cell
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj


def _recurrent_matrix(cell: RecurrentCell, what: str) -> Tensor:
    w = getattr(cell, "weight_hh", None)
    if not isinstance(w, Tensor):
        raise ValueError(f"initialize {what!r}: {type(cell).__name__} has no recurrent matrix weight_hh")
    return w


def _default(cells: list[RecurrentCell], module: nn.Module, gen: torch.Generator | None, **_: Any) -> None:
    for c in cells:
        c.reset_parameters()


def _uniform(cells: list[RecurrentCell], module: nn.Module, gen: torch.Generator | None, a: float = 0.1) -> None:
    if isinstance(a, bool) or not isinstance(a, (int, float)) or not a > 0:
        raise ValueError(f"initialize 'uniform': expected a bound a > 0, got {a!r}")
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * (2 * a) - a)


def _orthogonal_(block: Tensor, gen: torch.Generator | None, gain: float) -> Tensor:
    """A random matrix of ``block``'s shape with orthonormal rows or columns (QR of a Gaussian, signs fixed)."""
    rows, cols = block.shape
    flat = torch.randn(max(rows, cols), min(rows, cols), generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(flat)  # (max, min)
    q = q * torch.sign(torch.diagonal(r))  # uniform (Haar) distribution, Mezzadri 2007
    return (q if rows >= cols else q.t()) * gain


def _orthogonal(cells: list[RecurrentCell], module: nn.Module, gen: torch.Generator | None, gain: float = 1.0) -> None:
    with torch.no_grad():
        for c in cells:
            w = _recurrent_matrix(c, "orthogonal")  # (k H, H or P)
            for block in w.split(c.hidden_size, 0):  # each gate's (H, H or P) block
                block.copy_(_orthogonal_(block, gen, gain).to(block.dtype))


def _identity(cells: list[RecurrentCell], module: nn.Module, gen: torch.Generator | None, gain: float = 1.0) -> None:
    with torch.no_grad():
        for c in cells:
            w = _recurrent_matrix(c, "identity")
            if w.shape[0] != w.shape[1]:
                raise ValueError(
                    f"initialize 'identity': expected one square recurrent matrix (Elman, leaky), "
                    f"{type(c).__name__} has weight_hh of shape {tuple(w.shape)}"
                )
            w.copy_(torch.eye(w.shape[0], dtype=w.dtype) * gain)
            for name in ("bias_ih", "bias_hh"):
                b = getattr(c, name, None)
                if isinstance(b, Tensor):
                    b.zero_()


def _chrono(
    cells: list[RecurrentCell], module: nn.Module, gen: torch.Generator | None, t_max: float | None = None
) -> None:
    if t_max is None or isinstance(t_max, bool) or not isinstance(t_max, (int, float)) or not t_max > 2:
        raise ValueError(f"initialize 'chrono': expected t_max > 2 (the longest dependency, in steps), got {t_max!r}")
    with torch.no_grad():
        for c in cells:
            try:
                kind, names = _GATE_BIASES[type(c)]
            except KeyError:
                raise ValueError(
                    f"initialize 'chrono': expected an LSTM or GRU cell with biases, got {type(c).__name__}"
                ) from None
            biases = [_param(c, n) for n in names]
            if any(b is None for b in biases):
                raise ValueError(f"initialize 'chrono': {type(c).__name__} was built without biases")
            H = c.hidden_size
            u = 1 + torch.rand(H, generator=gen, dtype=torch.float64) * (t_max - 2)  # U(1, T_max - 1)
            keep = torch.log(u).to(biases[0].dtype)  # (H,)
            for j, b in enumerate(biases):
                first = j == 0
                if kind == "lstm":  # gate order i, f, g, o
                    b[H : 2 * H].copy_(keep if first else torch.zeros_like(keep))
                    b[:H].copy_(-keep if first else torch.zeros_like(keep))
                else:  # gate order r, z, n
                    b[H : 2 * H].copy_(keep if first else torch.zeros_like(keep))


INITIALIZERS: dict[str, Callable[..., None]] = {
    "default": _default,
    "uniform": _uniform,
    "orthogonal": _orthogonal,
    "identity": _identity,
    "chrono": _chrono,
}
# the option a "name:value" argument fills
_ARGUMENT = {"uniform": "a", "orthogonal": "gain", "identity": "gain", "chrono": "t_max"}


def parse_init_name(name: str) -> tuple[str, dict[str, float]]:
    """``"uniform:0.1"`` -> ``("uniform", {"a": 0.1})``; a one-line ValueError for unknown names or arguments."""
    if not isinstance(name, str):
        raise ValueError(f"initialisation name must be a string, got {type(name).__name__}")
    base, sep, arg = name.partition(":")
    if base not in INITIALIZERS:
        raise ValueError(f"unknown initialisation {name!r}; expected one of {', '.join(INITIALIZERS)}")
    if not sep:
        return base, {}
    if base not in _ARGUMENT:
        raise ValueError(f"initialisation {base!r} takes no argument, got {name!r}")
    try:
        value = float(arg)
    except ValueError:
        raise ValueError(f"initialisation {name!r}: expected a number after ':', got {arg!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"initialisation {name!r}: expected a finite number after ':', got {arg!r}")
    return base, {_ARGUMENT[base]: value}


def initialize(
    module_or_recurrent: nn.Module,
    name: str,
    *,
    layers: Iterable[int] | None = None,
    generator: torch.Generator | None = None,
    **options: Any,
) -> nn.Module:
    """Re-initialise the recurrent cells of ``module_or_recurrent`` in place by ``name``; see the module docstring.

    Args:
        module_or_recurrent: a cell, a Recurrent, or any module holding them.
        name: ``"default"``, ``"uniform:a"``, ``"orthogonal"``, ``"identity"`` or ``"chrono:T_max"``.
        layers: indices of the Recurrent layers to initialise (default: all).
        generator: the random generator of the draws (default: torch's global one).
        **options: ``a``, ``gain`` or ``t_max``, as the initialisation takes.

    Returns:
        the module, for chaining.
    """
    if not isinstance(module_or_recurrent, nn.Module):
        raise ValueError(f"initialize: expected a torch module, got {type(module_or_recurrent).__name__}")
    base, parsed = parse_init_name(name)
    cells = recurrent_cells(module_or_recurrent, layers)
    try:
        INITIALIZERS[base](cells, module_or_recurrent, generator, **{**parsed, **options})
    except TypeError:
        raise ValueError(f"initialisation {base!r}: unexpected options {sorted(options)}") from None
    return module_or_recurrent
