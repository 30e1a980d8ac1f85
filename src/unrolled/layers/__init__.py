"""Layers that unroll cells through time."""

from unrolled.layers.crf import CRF
from unrolled.layers.recurrent import Recurrent
from unrolled.state import detach_state

__all__ = ["CRF", "Recurrent", "detach_state"]
