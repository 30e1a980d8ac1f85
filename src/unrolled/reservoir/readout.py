"""Linear readouts of reservoir states: closed-form ridge regression and online recursive least squares (FORCE)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["RLSReadout", "RidgeReadout", "ridge_solve"]


def _check_xy(X: Tensor, Y: Tensor, finite_x: bool = True) -> None:
    if X.dim() < 2 or Y.dim() != X.dim() or X.shape[:-1] != Y.shape[:-1]:
        raise ValueError(
            f"ridge expected states (..., M, F) and targets (..., M, O) with the same leading shape, got "
            f"{tuple(X.shape)} and {tuple(Y.shape)}"
        )
    if not ((not finite_x or torch.isfinite(X).all()) and torch.isfinite(Y).all()):
        raise ValueError("ridge got NaN or infinite values in its states or targets")


def _gram(X: Tensor) -> Tensor:
    """:math:`X^\\top X` (..., F, F) of X (..., M, F). One CPU matrix goes through numpy, whose matmul recognises
    the product of a matrix with its own transpose and calls BLAS ``syrk`` (half the multiplications of a general
    product, and exactly symmetric); measured 2x faster than ``torch.matmul`` here (``benchmarks/esn.py``)."""
    if X.dim() == 2 and X.device.type == "cpu" and not X.requires_grad:
        x = X.numpy()  # (M, F), shares memory
        with np.errstate(over="ignore", invalid="ignore"):  # NaN / inf / overflow: the caller checks the diagonal
            return torch.from_numpy(x.T @ x)  # (F, F)
    return X.transpose(-1, -2) @ X  # (..., F, F)


def ridge_penalty(features: int, ridge: float, bias: bool, device: torch.device | None = None) -> Tensor:
    r"""The diagonal :math:`\lambda D` (F+1,) ((F,) without bias) of the normal equations, in float64: 0 for the
    intercept, which is not shrunk."""
    penalty = torch.full((features + int(bias),), float(ridge), dtype=torch.float64, device=device)
    if bias:
        penalty[-1] = 0.0
    return penalty


def cholesky_normal_solve(A: Tensor, rhs: Tensor, penalty: Tensor) -> Tensor | None:
    r"""Solve :math:`(A + \mathrm{diag}(p)) W = rhs` by Cholesky (``A`` (..., F, F) is changed in place), or None
    when the matrix is not positive definite (the caller falls back to least squares)."""
    A += torch.diag(penalty)
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info == 0).all()):
        return torch.cholesky_solve(rhs, L)  # (..., F, O)
    return None


def ridge_solve(X: Tensor, Y: Tensor, ridge: float, bias: bool = True) -> tuple[Tensor, Tensor | None]:
    r"""The ridge-regression readout :math:`W = \arg\min \|X W^\top + c - Y\|^2 + \lambda \|W\|^2` in closed form.

    Solves the normal equations :math:`(\bar X^\top \bar X + \lambda D) \bar W = \bar X^\top Y` with a Cholesky
    factorisation in float64 (never an explicit inverse; falls back to ``torch.linalg.lstsq`` on the augmented
    system if the matrix is not positive definite, e.g. with :math:`\lambda = 0`). :math:`\bar X = [X, 1]` when
    ``bias``; :math:`D` is the identity with 0 for the bias (the intercept is not shrunk). Batched: leading
    dimensions of ``X`` and ``Y`` are solved independently.

    Args:
        X: states. Y: targets. ridge: :math:`\lambda \ge 0`. bias: fit an intercept.

    Shape:
        M samples, F features, O outputs, ``...`` any batch dimensions.

        - X: (..., M, F); Y: (..., M, O).
        - Returns ``weight`` (..., O, F) and ``bias`` (..., O) (None without bias), in X's dtype.

    Example::

        >>> X, Y = torch.randn(200, 5), torch.randn(200, 2)
        >>> W, c = ridge_solve(X, Y, ridge=1e-3)
        >>> (W.shape, c.shape)
        (torch.Size([2, 5]), torch.Size([2]))
    """
    _check_xy(X, Y, finite_x=False)  # X is checked through the diagonal of its Gram matrix below (no extra pass)
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or ridge < 0:
        raise ValueError(f"ridge expected a number >= 0 for the ridge penalty, got {ridge!r}")
    Yd = Y.to(torch.float64)
    F1 = X.shape[-1] + int(bias)
    Xd = torch.empty(*X.shape[:-1], F1, dtype=torch.float64, device=X.device)  # (..., M, F+1)
    Xd[..., : X.shape[-1]] = X  # converted to float64 in the copy
    if bias:
        Xd[..., -1] = 1.0
    penalty = ridge_penalty(X.shape[-1], ridge, bias, X.device)
    A = _gram(Xd)  # (..., F+1, F+1)
    if not bool(torch.isfinite(A.diagonal(dim1=-2, dim2=-1)).all()):  # sums of squares: any NaN / inf in X shows
        _check_xy(X, Y)
        raise ValueError("ridge got states whose squares overflow float64 (values above ~1e154); scale them")
    sol = cholesky_normal_solve(A, Xd.transpose(-1, -2) @ Yd, penalty)  # (..., F+1, O) or None
    if sol is None:  # singular normal equations: least squares on the augmented system [X; sqrt(lambda) D] W = [Y; 0]
        aug_x = torch.cat([Xd, torch.diag(penalty.sqrt()).expand(*Xd.shape[:-2], F1, F1)], dim=-2)
        aug_y = torch.cat([Yd, Yd.new_zeros(*Yd.shape[:-2], F1, Yd.shape[-1])], dim=-2)
        driver = "gelsd" if X.device.type == "cpu" else "gels"
        sol = torch.linalg.lstsq(aug_x, aug_y, driver=driver).solution
    W = sol.transpose(-1, -2).to(X.dtype)  # (..., O, F+1)
    if bias:
        return W[..., :-1].contiguous(), W[..., -1].contiguous()
    return W.contiguous(), None


class RidgeReadout(nn.Module):
    r"""A linear readout :math:`y_t = W x_t + c` fitted in closed form by ridge regression (:func:`ridge_solve`).

    Args:
        in_features: F. out_features: O. ridge: :math:`\lambda`. bias: fit an intercept.

    Shape:
        - input: (..., F); output: (..., O).

    Example::

        >>> r = RidgeReadout(5, 1, ridge=1e-6)
        >>> X = torch.randn(100, 5)
        >>> r.fit(X, X[:, :1] * 2)(X[:3]).shape
        torch.Size([3, 1])
    """

    def __init__(self, in_features: int, out_features: int, ridge: float = 1e-6, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features, self.ridge, self.has_bias = in_features, out_features, ridge, bias
        self.register_buffer("weight", torch.zeros(out_features, in_features))  # W (O, F)
        self.register_buffer("bias", torch.zeros(out_features))  # c (O,)

    def fit(self, X: Tensor, Y: Tensor) -> RidgeReadout:
        """Fit on states X (M, F) (or (B, T, F), flattened) and targets Y (M, O) (or (B, T, O))."""
        X = X.reshape(-1, X.shape[-1])  # (M, F)
        Y = Y.reshape(-1, Y.shape[-1])  # (M, O)
        if X.shape[-1] != self.in_features or Y.shape[-1] != self.out_features:
            raise ValueError(
                f"ridge readout expected {self.in_features} state features and {self.out_features} targets, got "
                f"{X.shape[-1]} and {Y.shape[-1]}"
            )
        W, c = ridge_solve(X, Y, self.ridge, self.has_bias)
        self.weight.copy_(W)
        self.bias.copy_(c if c is not None else torch.zeros_like(self.bias))
        return self

    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.linear(x, self.weight, self.bias)  # (..., O)


class RLSReadout(nn.Module):
    r"""A linear readout trained online by recursive least squares, the rule of FORCE learning (Sussillo & Abbott
    2009, eq. 4-5; Haykin, *Adaptive Filter Theory* §10):

    .. math::
        k_t &= \frac{P_{t-1} \bar x_t}{1 + \bar x_t^\top P_{t-1} \bar x_t}, \qquad
        e_t = \bar W_{t-1} \bar x_t - y_t \\
        \bar W_t &= \bar W_{t-1} - e_t k_t^\top, \qquad P_t = P_{t-1} - k_t \bar x_t^\top P_{t-1}

    with :math:`P_0 = I / \alpha`, :math:`\bar x = [x, 1]` when ``bias``. After M samples :math:`\bar W` is the
    ridge solution with penalty :math:`\alpha` on every weight (the bias included), up to rounding.

    Args:
        in_features: F. out_features: O. alpha: :math:`\alpha > 0`, the initial inverse-correlation scale.
        bias: learn an intercept.

    Shape:
        - update: x (F,) or (F,) per step, y (O,); fit: X (M, F), Y (M, O).
        - input: (..., F); output: (..., O).

    Example::

        >>> r = RLSReadout(3, 1, alpha=1.0)
        >>> X = torch.randn(50, 3, dtype=torch.float64)
        >>> r.fit(X, X.sum(1, keepdim=True)).weight.shape
        torch.Size([1, 3])
    """

    def __init__(self, in_features: int, out_features: int, alpha: float = 1.0, bias: bool = True):
        super().__init__()
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f"RLS expected alpha > 0, got {alpha!r}")
        self.in_features, self.out_features, self.has_bias = in_features, out_features, bias
        F1 = in_features + int(bias)
        self.register_buffer("P", torch.eye(F1, dtype=torch.float64) / alpha)  # P (F+1, F+1)
        self.register_buffer("W", torch.zeros(out_features, F1, dtype=torch.float64))  # W_bar (O, F+1)

    @property
    def weight(self) -> Tensor:
        return self.W[:, : self.in_features]

    @property
    def bias(self) -> Tensor | None:
        return self.W[:, -1] if self.has_bias else None

    def _aug(self, x: Tensor) -> Tensor:
        x = x.to(torch.float64)
        return torch.cat([x, x.new_ones(1)]) if self.has_bias else x  # (F+1,)

    def update(self, x: Tensor, y: Tensor) -> Tensor:
        """One RLS step on state x (F,) and target y (O,); returns the error before the update (O,)."""
        xb = self._aug(x)  # (F+1,)
        Px = self.P @ xb  # (F+1,)
        k = Px / (1.0 + xb @ Px)  # (F+1,)
        e = self.W @ xb - y.to(torch.float64)  # (O,)
        self.W -= torch.outer(e, k)
        self.P -= torch.outer(k, Px)  # P symmetric: k x^T P = k (P x)^T
        return e

    def fit(self, X: Tensor, Y: Tensor) -> RLSReadout:
        """Run :meth:`update` over the M samples of X (M, F), Y (M, O) in order."""
        _check_xy(X, Y)
        for x, y in zip(X.reshape(-1, X.shape[-1]), Y.reshape(-1, Y.shape[-1]), strict=True):
            self.update(x, y)
        return self

    def forward(self, x: Tensor) -> Tensor:
        W = self.W.to(x.dtype)
        out = x @ W[:, : self.in_features].t()  # (..., O)
        return out + W[:, -1] if self.has_bias else out
