r"""The contract of a scan kernel (:class:`ScanKernel`) and the buffer and gradient helpers the kernels share."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from unrolled.cells.activations import ACTIVATIONS
from unrolled.cells.base import RecurrentCell

Workspace = dict[str, Any]
#: a differentiable step in the kernel's own terms: (xp_t, state parts) -> (y_t, new state parts)
Step = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, tuple[Tensor, ...]]]

# nonlinearity -> (in-place forward, derivative written in terms of the output y = phi(a))
POINTWISE: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "tanh": (Tensor.tanh_, lambda y: 1 - y * y),
    "sigmoid": (Tensor.sigmoid_, lambda y: y * (1 - y)),
    "relu": (Tensor.relu_, lambda y: (y > 0).to(y.dtype)),
    "identity": (lambda y: y, torch.ones_like),
}
NAME_OF_ACTIVATION = {fn: name for name, fn in ACTIVATIONS.items()}


def steps(buffer: Tensor) -> list[Tensor]:
    """The per-step views buffer[0], buffer[1], ... of a (T, ...) buffer."""
    return list(buffer.unbind(0))


def slots(T: int, save: bool, shape: tuple[int, ...], like: Tensor, scratch: int = 1) -> tuple[Tensor, list]:
    """A (T, *shape) buffer when saving, else ``scratch`` reused slots; returns it and its per-step views."""
    buf = like.new_empty((T if save else scratch, *shape))
    return buf, steps(buf)


def mm_into(bias: Tensor | None, a: Tensor, b: Tensor) -> Tensor:
    """bias + a @ b, or a @ b when there is no bias."""
    return torch.mm(a, b) if bias is None else torch.addmm(bias, a, b)


def transposed(W: Tensor, T: int, B: int) -> Tensor:
    r""":math:`W^\top`, the right operand of the per-step products :math:`h W^\top`: a transposing copy when the
    loop repays it (B >= 8 and T >= 32), else a view. MKL's product with a row-major right operand is 10-25%
    faster than with a transposed one at 8 <= B <= 64 (measured on Xeon, 1 and 2 threads); the copy costs
    about one to two steps' saving per 8 steps at B = 32."""
    Wt = W.t()
    return Wt.contiguous() if B >= 8 and T >= 32 else Wt


def previous(first: Tensor, seq: Tensor) -> Tensor:
    """(T, B, ·) values at t - 1: ``first`` at t = 0, then seq[:-1]."""
    return torch.cat([first.unsqueeze(0), seq[:-1]])


def previous_chunk(first: Tensor, seq: Tensor, t0: int, t1: int) -> Tensor:
    """seq[t - 1] for t in t0..t1-1, with seq[-1] = first: (t1 - t0, B, ·); a view unless t0 == 0."""
    if t0 > 0:
        return seq[t0 - 1 : t1 - 1]
    return torch.cat([first.unsqueeze(0), seq[: t1 - 1]])


def grad_weight(dA: Tensor, h0: Tensor, out: Tensor) -> Tensor:
    r""":math:`\sum_t \delta A_t^\top h_{t-1}` with :math:`h_{-1}` = ``h0``, in two large products:
    dA (T, B, G), h0 (B, O), out (T, B, O) -> (G, O)."""
    G, O = dA.shape[-1], out.shape[-1]
    dW = dA[0].t() @ h0  # (G, O)
    if dA.shape[0] > 1:
        dW.addmm_(dA[1:].reshape(-1, G).t(), out[:-1].reshape(-1, O))
    return dW


def grad_weight_reset_before(dH: Tensor, rz: Tensor, h0: Tensor, out: Tensor) -> Tensor:
    r"""dW_hh of a GRU with the reset before the product, from the gradients dH (T, B, 3H) at the two products'
    outputs: :math:`\sum_t \delta_{rz,t}^\top h_{t-1}` stacked on :math:`\sum_t \delta_{n,t}^\top (r_t \odot
    h_{t-1})`, (3H, H)."""
    H = out.shape[-1]
    dWrz = grad_weight(dH[:, :, : 2 * H], h0, out)
    rh = rz[:, :, :H] * previous(h0, out)  # r_t h_{t-1}: (T, B, H)
    return torch.cat([dWrz, dH[:, :, 2 * H :].reshape(-1, H).t() @ rh.reshape(-1, H)])


def update_gate_factors(z: Tensor, n: Tensor, h_prev: Tensor, K_z: Tensor, K_n: Tensor) -> Tensor:
    r"""Derivative factors of the GRU interpolation :math:`h_t = (1 - z) n + z h_{t-1}` w.r.t. the
    pre-activations of :math:`z` (a sigmoid) and :math:`n` (a tanh): writes :math:`(h_{t-1} - n)\, z (1 - z)` into
    ``K_z`` and :math:`k_n = (1 - z)(1 - n^2)` into ``K_n``; returns ``K_n``."""
    torch.mul(h_prev - n, z - z * z, out=K_z)
    return torch.mul(1 - z, 1 - n * n, out=K_n)


def memory_factors(i: Tensor, f: Tensor, sg: Tensor, c_prev: Tensor, K: Tensor, g: Tensor, tmp: Tensor) -> None:
    r"""Derivative factors of the LSTM memory :math:`c_t = f c_{t-1} + i g` w.r.t. the pre-activations of
    :math:`i, f` (sigmoids) and :math:`g` (a tanh, held as ``sg`` :math:`= \sigma(2\tilde g)`): writes
    :math:`g\, i(1 - i)`, :math:`c_{t-1} f(1 - f)`, :math:`i (1 - g^2)` into ``K[:, :, 0:3]`` (K: (n, B, >= 3, H))
    and :math:`g = 2 sg - 1` into ``g``; ``tmp`` is (n, B, H) scratch."""
    torch.add(sg, sg, out=g).sub_(1)
    torch.mul(g, torch.addcmul(i, i, i, value=-1, out=tmp), out=K[:, :, 0])
    torch.mul(c_prev, torch.addcmul(f, f, f, value=-1, out=tmp), out=K[:, :, 1])
    torch.mul(i, torch.addcmul(g.new_ones(()), g, g, value=-1, out=tmp), out=K[:, :, 2])


def sum_bt(x: Tensor) -> Tensor:
    """Sum over every leading dimension: (..., N) -> (N,)."""
    return x.reshape(-1, x.shape[-1]).sum(0)


class _CellSteps(nn.Module):
    """``cell.step`` as a module call, so that :func:`torch.func.functional_call` can substitute the cell's
    tensors for one call."""

    def __init__(self, cell: RecurrentCell):
        super().__init__()
        self.cell = cell

    def forward(self, xp_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        y, new = self.cell.step(xp_t, state[0] if len(state) == 1 else state)
        return y, ((new,) if isinstance(new, Tensor) else tuple(new))


class ScanKernel:
    """The pointwise part of one cell kind, forward and backward, for :func:`~unrolled.layers.scan.scan`.

    Subclasses set ``n_state`` (tensors in the state, ``h`` first) and ``saved_keys`` (the workspace entries
    the backward needs; each a (T, B, ·) tensor after :meth:`pack`, zeroed past each sequence's end by the
    Function) and implement the hooks below. ``t`` is the
    step index, ``ws`` a dict holding the parameters (key ``"P"``), buffers and scratch; a hook never modifies an
    incoming gradient in place.

    :meth:`params` are the tensors the recurrence reads. :meth:`reference_step` is the same step written with
    autograd ops on those tensors (``cell.step`` with them substituted for the cell's own, by default through
    ``param_names``); the Function's double backward differentiates it.
    """

    n_state: int = 1
    saved_keys: tuple[str, ...] = ()
    #: the cell attribute (dotted path) that each entry of :meth:`params` is, for :meth:`reference_step`
    param_names: tuple[str, ...] = ()
    #: steps whose derivative factors are computed together (vectorised, in reused chunk-sized temporaries)
    chunk: int = 16

    def __init__(self, cell: RecurrentCell):
        self.cell = cell
        self.H = cell.hidden_size
        self.output_size = cell.output_size

    def prepare(self, cell: RecurrentCell, xp: Tensor) -> Tensor:
        """Autograd-visible preparation of xp (T, B, G) before the Function (default: none)."""
        return xp

    def params(self, cell: RecurrentCell) -> tuple[Tensor | None, ...]:
        """Tensors the recurrence uses, passed to the Function (their gradients come from :meth:`finish`);
        default: the cell's tensors named in ``param_names``."""
        return tuple(attrgetter(name)(cell) for name in self.param_names)

    def substitutes(self, P: tuple[Tensor | None, ...]) -> dict[str, Tensor]:
        """The cell's tensors to replace, by name, so that ``cell.step`` computes with ``P`` exactly."""
        return {name: p for name, p in zip(self.param_names, P) if p is not None}

    def reference_step(self, P: tuple[Tensor | None, ...]) -> Step:
        """One step as a differentiable function of ``P``: ``cell.step`` with :meth:`substitutes` in place."""
        module = _CellSteps(self.cell)
        subs = {"cell." + name: p for name, p in self.substitutes(P).items()}
        return lambda xp_t, state: functional_call(module, subs, (xp_t, state))

    def workspace(self, xp: Tensor, state0: tuple[Tensor, ...], P: tuple, save: bool) -> Workspace:
        raise NotImplementedError

    def begin_chunk(self, ws: Workspace, t0: int, t1: int) -> None:
        """Forward, before steps t0..t1-1 (a chunk of at most ``chunk`` steps): e.g. make that chunk's per-step
        views (default: nothing)."""

    def end_chunk(self, ws: Workspace, t0: int, t1: int) -> None:
        """Forward, after steps t0..t1-1: e.g. move the chunk's per-step results into (T, ...) buffers
        (default: nothing)."""

    def fstep(self, t: int, xp_t: Tensor, state: tuple[Tensor, ...], ws: Workspace, out_t: Tensor) -> tuple:
        """One forward step: writes y_t into ``out_t`` (B, O) and returns the new state."""
        raise NotImplementedError

    def pack(self, ws: Workspace) -> None:
        """After a saving forward: turn per-step lists in ``ws`` into tensors (default: nothing to do)."""

    def begin_backward(self, ws: Workspace, state0: tuple[Tensor, ...], out: Tensor) -> None:
        """Allocate the gradient buffers of the backward loop; ``ws["needs"]`` tells which of :meth:`params`
        need a gradient."""
        raise NotImplementedError

    def factors(self, ws: Workspace, state0: tuple[Tensor, ...], out: Tensor, t0: int, t1: int) -> None:
        """Compute, for steps t0..t1-1 at once (one chunk), the derivative factors that do not depend on the
        incoming gradient; :meth:`bstep` reads them at index ``t - ws["t0"]``."""
        raise NotImplementedError

    def bstep(self, t: int, dh: Tensor, drest: tuple, dy_prev: Tensor | None, ws: Workspace) -> tuple:
        """One backward step from dL/dh_t (total) and the other state gradients; returns those at t - 1
        (``dy_prev`` = dL/dy_{t-1} is added into dh_{t-1}; None at t = 0 or without output gradient)."""
        raise NotImplementedError

    def finish(self, ws: Workspace, state0: tuple[Tensor, ...], out: Tensor, needs: tuple) -> tuple:
        """After the loop: dL/dxp (T, B, G) and the gradients of :meth:`params` (None where not needed)."""
        raise NotImplementedError
