"""Conditioned generation (vector-to-sequence): ``unrolled train conditioned``, ``evaluate``, ``predict``."""

from unrolled.tasks.conditioned.config import ConditionedDataConfig, ConditionedModelConfig, ConditionedRunConfig
from unrolled.tasks.conditioned.run import LoadedConditioned, generate_for, load_run, score_split

__all__ = [
    "ConditionedDataConfig",
    "ConditionedModelConfig",
    "ConditionedRunConfig",
    "LoadedConditioned",
    "generate_for",
    "load_run",
    "score_split",
]
