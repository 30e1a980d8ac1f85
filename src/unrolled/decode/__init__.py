"""Generation from any autoregressive model: logit processors, selection strategies and the decoding loop.

Never imports :mod:`unrolled.models`; a model joins in by offering
``step(tokens (B,), state) -> (logits (B, V), state)`` and optionally
``prime(tokens (B, T), state) -> (logits_last (B, V), state)``.
"""

from unrolled.decode.beam import Hypothesis, beam_search, greedy_decode, length_penalty, sample_decode
from unrolled.decode.generate import DecodeConfig, generate
from unrolled.decode.sampling import (
    PROCESSORS,
    STRATEGIES,
    Suppress,
    Temperature,
    TopK,
    TopP,
    apply_processors,
    build_processors,
    get_strategy,
    greedy,
    sample,
)

__all__ = [
    "Hypothesis",
    "beam_search",
    "greedy_decode",
    "length_penalty",
    "sample_decode",
    "PROCESSORS",
    "STRATEGIES",
    "DecodeConfig",
    "Suppress",
    "Temperature",
    "TopK",
    "TopP",
    "apply_processors",
    "build_processors",
    "generate",
    "get_strategy",
    "greedy",
    "sample",
]
