"""Optimizer registry: ``TrainConfig.optimizer`` names resolved once to a ``torch.optim`` constructor.

=========  ==========================  ================================================================
name       class                       config fields used
=========  ==========================  ================================================================
sgd        ``torch.optim.SGD``         lr, momentum, weight_decay
adam       ``torch.optim.Adam``        lr, betas, weight_decay (coupled: added to the gradient)
adamw      ``torch.optim.AdamW``       lr, betas, weight_decay (decoupled, Loshchilov & Hutter 2019)
adagrad    ``torch.optim.Adagrad``     lr, weight_decay
rmsprop    ``torch.optim.RMSprop``     lr, momentum, weight_decay, alpha = betas[1] (Tieleman & Hinton 2012)
ntasgd     :class:`~unrolled.train.ntasgd.NTASGD`  lr, weight_decay, nonmono; SGD, then averaged SGD once the
                                       non-monotone trigger fires (Merity et al. 2018); needs the
                                       :class:`~unrolled.train.ntasgd.AveragedEvaluation` callback
=========  ==========================  ================================================================

``weight_decay`` is the optimizer's own decay on every parameter; the explicit ``l1`` / ``l2`` penalties of
:mod:`unrolled.train.penalty` are separate and only touch weight matrices.

Example::

    >>> opt = build_optimizer(model.parameters(), TrainConfig(optimizer="sgd", lr=1.0, momentum=0.9))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import torch

from unrolled.train.ntasgd import NTASGD

if TYPE_CHECKING:
    from unrolled.train.config import TrainConfig

__all__ = ["OPTIMIZERS", "build_optimizer"]

Params = Iterable[torch.nn.Parameter]

OPTIMIZERS: dict[str, Callable[[Params, TrainConfig], torch.optim.Optimizer]] = {
    "sgd": lambda p, c: torch.optim.SGD(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adam": lambda p, c: torch.optim.Adam(p, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay),
    "adamw": lambda p, c: torch.optim.AdamW(p, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay),
    "adagrad": lambda p, c: torch.optim.Adagrad(p, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda p, c: torch.optim.RMSprop(
        p, lr=c.lr, alpha=c.betas[1], momentum=c.momentum, weight_decay=c.weight_decay
    ),
    "ntasgd": lambda p, c: NTASGD(p, lr=c.lr, weight_decay=c.weight_decay, nonmono=c.nonmono),
}


def build_optimizer(params: Params, config: TrainConfig) -> torch.optim.Optimizer:
    """Build the optimizer named by ``config.optimizer`` over ``params``."""
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[config.optimizer](params, config)
