"""Layers that unroll cells through time."""

from unrolled.layers.recurrent import Recurrent
from unrolled.state import detach_state

__all__ = ["Recurrent", "detach_state"]
