"""Models: recurrent language models and their baselines."""

from unrolled.models.classifier import ClassifierConfig, SequenceClassifier
from unrolled.models.fixed_window import FixedWindowLM, windows
from unrolled.models.language_model import RNNLanguageModel, RNNLMConfig
from unrolled.models.ngram import SMOOTHINGS, NGramLM
from unrolled.models.tagger import SequenceTagger, TagBatch, TaggerConfig

__all__ = [
    "SMOOTHINGS",
    "ClassifierConfig",
    "FixedWindowLM",
    "NGramLM",
    "RNNLMConfig",
    "RNNLanguageModel",
    "SequenceClassifier",
    "SequenceTagger",
    "TagBatch",
    "TaggerConfig",
    "windows",
]
