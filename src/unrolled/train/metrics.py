"""Metrics derived from the mean loss :math:`\\bar\\ell` in nats per unit, shown next to the loss.

- ``loss``: :math:`\\bar\\ell` itself.
- ``ppl``: perplexity :math:`\\exp(\\bar\\ell)` (word-level language modelling).
- ``bpc``: bits per character :math:`\\bar\\ell / \\ln 2` (character-level language modelling, Graves 2013).

Example::

    >>> metric_value("bpc", math.log(2))
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["METRICS", "bits", "metric_value", "perplexity"]

LN2 = math.log(2.0)


def perplexity(loss: float) -> float:
    """:math:`\\exp(\\bar\\ell)`, ``inf`` when it overflows a float (a huge but finite loss)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def bits(loss: float) -> float:
    """:math:`\\bar\\ell / \\ln 2`: nats to bits (bits per character for a character-level loss)."""
    return loss / LN2


METRICS: dict[str, Callable[[float], float]] = {
    "loss": lambda loss: loss,
    "ppl": perplexity,
    "bpc": bits,
}


def metric_value(name: str, loss: float) -> float:
    """Value of the metric ``name`` (a key of :data:`METRICS`) for a mean loss in nats."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    return METRICS[name](loss)
