r"""Spectra of recurrent dynamics: the recurrent matrix, the step Jacobians, and the eigenvalue-power picture.

For :math:`h_t = \phi(W h_{t-1} + U x_t + b)` the error signal travels back through the step Jacobians
:math:`J_t = \partial h_t / \partial h_{t-1} = \mathrm{diag}(\phi'(a_t)) W`; a product of them shrinks
geometrically when their spectral radii stay below 1 and may explode above it (Bengio et al. 1994; Pascanu et
al. 2013, §2). Without the nonlinearity, :math:`h_t = (W^t)^\top h_0` (Goodfellow et al., *Deep Learning*
§10.7, with :math:`h_t = W^\top h_{t-1}`): with :math:`W = Q \Lambda Q^\top`, :math:`h_t = Q \Lambda^t Q^\top
h_0`, so every component outside the leading eigenvector fades (:func:`eigenvalue_power`).

Example::

    >>> spectral_radius(cell.weight_hh)
    >>> radii = jacobian_spectral_radii(cell, x)          # x (T, I): one sequence; radii (T,)
"""

from __future__ import annotations

import torch
from torch import Tensor

from unrolled.cells.base import RecurrentCell, State, replace_hidden, state_hidden

__all__ = [
    "eigenvalue_power",
    "jacobian_spectral_radii",
    "recurrent_spectral_radii",
    "spectral_radius",
    "step_jacobians",
]


def spectral_radius(matrix: Tensor) -> float:
    """:math:`\\rho(M) = \\max_i |\\lambda_i(M)|` of a square matrix."""
    if not isinstance(matrix, Tensor) or matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        shape = tuple(matrix.shape) if isinstance(matrix, Tensor) else type(matrix).__name__
        raise ValueError(f"spectral_radius: expected a square matrix, got {shape}")
    return float(torch.linalg.eigvals(matrix.detach().double()).abs().max())


def recurrent_spectral_radii(cell: RecurrentCell) -> list[float]:
    """The spectral radius of each square gate block (H rows) of the cell's ``weight_hh`` (one for Elman)."""
    w = getattr(cell, "weight_hh", None)
    if not isinstance(w, Tensor):
        raise ValueError(f"recurrent_spectral_radii: {type(cell).__name__} has no recurrent matrix weight_hh")
    return [spectral_radius(block) for block in w.split(cell.hidden_size, 0)]


def step_jacobians(cell: RecurrentCell, x: Tensor, state: State | None = None) -> Tensor:
    r"""The Jacobians :math:`J_t = \partial h_t / \partial h_{t-1}` along the trajectory of one sequence.

    Other state parts (an LSTM's :math:`c`) are held at their values on the trajectory, so for an LSTM this is
    the :math:`h \to h` block of the full state Jacobian.

    Args:
        cell: any cell.
        x: one input sequence.
        state: the initial state for a batch of one (default zeros).

    Shape:
        - x: (T, I); output: (T, H, H), :math:`J_t[i, j] = \partial h_{t,i} / \partial h_{t-1,j}`.
    """
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != cell.input_size:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"step_jacobians: expected one sequence of shape (T, {cell.input_size}), got {shape}")
    s = cell.init_state(1, x.device, x.dtype) if state is None else state
    xp = cell.project_input(x.unsqueeze(1)).detach()  # (T, 1, G)
    out = []
    with torch.enable_grad():
        for xp_t in xp.unbind(0):  # each (1, G)
            h = state_hidden(s).detach().squeeze(0)  # (H,)
            rest = s

            def step_h(h_prev: Tensor, xp_t: Tensor = xp_t, rest: State = rest) -> Tensor:
                return state_hidden(cell.step(xp_t, replace_hidden(rest, h_prev.unsqueeze(0)))[1]).squeeze(0)

            out.append(torch.autograd.functional.jacobian(step_h, h))  # (H, H)
            s = cell.step(xp_t, s)[1]
            s = s.detach() if isinstance(s, Tensor) else tuple(p.detach() for p in s)
    return torch.stack(out)  # (T, H, H)


def jacobian_spectral_radii(cell: RecurrentCell, x: Tensor, state: State | None = None) -> Tensor:
    """:math:`\\rho(J_t)` for each step of :func:`step_jacobians`: a (T,) tensor."""
    jac = step_jacobians(cell, x, state).double()  # (T, H, H)
    return torch.linalg.eigvals(jac).abs().amax(-1)


def eigenvalue_power(weight: Tensor, h0: Tensor, steps: int) -> dict[str, Tensor]:
    r"""Iterate :math:`h_t = W^\top h_{t-1}` (no input, no nonlinearity) and watch the leading eigenvector win.

    Returns ``norms`` (steps + 1,) :math:`\lVert h_t \rVert` and ``alignment`` (steps + 1,) :math:`|\cos(h_t,
    v_1)|`, :math:`v_1` the eigenvector of :math:`W^\top` of largest :math:`|\lambda|` (its real part, normalised):
    the alignment tends to 1 when :math:`|\lambda_1|` is strictly the largest, while the norm scales like
    :math:`|\lambda_1|^t` (vanishing below 1, exploding above).

    Shape:
        - weight: (H, H); h0: (H,).
    """
    if not isinstance(weight, Tensor) or weight.dim() != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError("eigenvalue_power: expected a square weight matrix (H, H)")
    if not isinstance(h0, Tensor) or tuple(h0.shape) != (weight.shape[0],):
        raise ValueError(f"eigenvalue_power: expected h0 of shape ({weight.shape[0]},)")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"eigenvalue_power: expected steps >= 0, got {steps!r}")
    wt = weight.detach().double().t()
    values, vectors = torch.linalg.eig(wt)
    v1 = vectors[:, values.abs().argmax()].real
    v1 = v1 / v1.norm()
    h = h0.detach().double()
    norms, alignment = [], []
    for _ in range(steps + 1):
        n = h.norm()
        norms.append(n)
        alignment.append((h @ v1).abs() / n.clamp_min(1e-300))
        h = wt @ h
    return {"norms": torch.stack(norms), "alignment": torch.stack(alignment)}
