"""Layers that unroll cells through time."""

from unrolled.layers.attention import SCORES, Attention
from unrolled.layers.crf import CRF
from unrolled.layers.init import INITIALIZERS, initialize
from unrolled.layers.mdrnn import MultiDirectional2dRNN
from unrolled.layers.pooling import POOLINGS, make_pooling
from unrolled.layers.recurrent import Recurrent
from unrolled.state import detach_state

__all__ = [
    "INITIALIZERS",
    "POOLINGS",
    "SCORES",
    "CRF",
    "Attention",
    "MultiDirectional2dRNN",
    "Recurrent",
    "detach_state",
    "initialize",
    "make_pooling",
]
