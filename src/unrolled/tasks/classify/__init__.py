"""Sequence classification: ``unrolled train classify``, ``evaluate``, ``predict`` and ``neighbours``."""

from unrolled.tasks.classify.config import ClassifyDataConfig, ClassifyModelConfig, ClassifyRunConfig
from unrolled.tasks.classify.run import LoadedClassifier, evaluate_split, load_run, predict_texts

__all__ = [
    "ClassifyDataConfig",
    "ClassifyModelConfig",
    "ClassifyRunConfig",
    "LoadedClassifier",
    "evaluate_split",
    "load_run",
    "predict_texts",
]
