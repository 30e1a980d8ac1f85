"""Models: recurrent language models and their baselines."""

from unrolled.models.ar import ARModel, select_order
from unrolled.models.bridge import Bridge
from unrolled.models.classifier import ClassifierConfig, SequenceClassifier
from unrolled.models.conditioned import ConditionedDecoder
from unrolled.models.contexts import CONTEXTS
from unrolled.models.decoder import Decoder
from unrolled.models.encoder_decoder import EncoderDecoder, Seq2SeqConfig
from unrolled.models.fixed_window import FixedWindowLM, windows
from unrolled.models.forecast_result import Forecast
from unrolled.models.language_model import RNNLanguageModel, RNNLMConfig
from unrolled.models.lds import LDS, LinearDynamicalSystem
from unrolled.models.ngram import SMOOTHINGS, NGramLM
from unrolled.models.ntm import NTM, NTMCell
from unrolled.models.tagger import SequenceTagger, TagBatch, TaggerConfig
from unrolled.models.tree_classifier import TreeClassifier, TreeClassifierConfig

__all__ = [
    "CONTEXTS",
    "Bridge",
    "ConditionedDecoder",
    "Decoder",
    "EncoderDecoder",
    "Seq2SeqConfig",
    "LDS",
    "NTM",
    "NTMCell",
    "TreeClassifier",
    "TreeClassifierConfig",
    "SMOOTHINGS",
    "ARModel",
    "Forecast",
    "LinearDynamicalSystem",
    "ClassifierConfig",
    "FixedWindowLM",
    "NGramLM",
    "RNNLMConfig",
    "RNNLanguageModel",
    "SequenceClassifier",
    "SequenceTagger",
    "TagBatch",
    "TaggerConfig",
    "select_order",
    "windows",
]
