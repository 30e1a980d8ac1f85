"""Models: recurrent language models and their baselines."""

from unrolled.models.fixed_window import FixedWindowLM, windows
from unrolled.models.language_model import RNNLanguageModel, RNNLMConfig
from unrolled.models.ngram import SMOOTHINGS, NGramLM

__all__ = ["SMOOTHINGS", "FixedWindowLM", "NGramLM", "RNNLMConfig", "RNNLanguageModel", "windows"]
