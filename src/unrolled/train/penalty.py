"""Explicit L1 / L2 weight penalties added to the training loss.

.. math::

    \\Omega(\\theta) = \\lambda_1 \\sum_{W} \\sum_{ij} |W_{ij}| + \\lambda_2 \\sum_{W} \\sum_{ij} W_{ij}^2,
    \\qquad \\frac{\\partial \\Omega}{\\partial W} = \\lambda_1 \\operatorname{sign}(W) + 2 \\lambda_2 W

The sums run over the *weight matrices*: trainable parameters with ``dim() >= 2`` (input-to-hidden,
hidden-to-hidden and output projections, embeddings, convolution kernels). Biases, gains and other vectors are
left out, as is usual for weight penalties (Goodfellow et al. 2016, sec. 7.1). Note the L2 convention: the
penalty is :math:`\\lambda_2 \\lVert W \\rVert^2` without a factor 1/2, so its gradient is :math:`2\\lambda_2 W`
(``weight_decay`` of ``torch.optim.SGD`` adds :math:`\\lambda W` to the gradient instead).

The penalty only enters the backward pass: the losses the trainer reports (and perplexities) are data losses.

Example::

    >>> omega = weight_penalty(model, l1=0.0, l2=1e-4)   # scalar tensor, or None when both are 0
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["penalized_parameters", "weight_penalty"]


def penalized_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters the penalties cover: those with ``dim() >= 2``."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


def weight_penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor | None:
    """:math:`\\lambda_1 \\sum |W| + \\lambda_2 \\sum W^2` over :func:`penalized_parameters`, or ``None`` if both
    coefficients are zero (or the model has no weight matrix)."""
    if l1 == 0.0 and l2 == 0.0:
        return None
    params = penalized_parameters(model)
    if not params:
        return None
    total = None
    for p in params:
        term = None
        if l1 != 0.0:
            term = l1 * p.abs().sum()
        if l2 != 0.0:
            squares = l2 * p.square().sum()
            term = squares if term is None else term + squares
        total = term if total is None else total + term
    return total
