"""AWD-LSTM language models and ULMFiT classifiers."""

from lightning_models.text.awd_lstm import AWDLSTMEncoder, EmbeddingDropout, LockedDropout, WeightDropLSTM
from lightning_models.text.classifier import TextClassifier
from lightning_models.text.generate import generate
from lightning_models.text.language_model import LanguageModel

__all__ = [
    "AWDLSTMEncoder",
    "EmbeddingDropout",
    "LanguageModel",
    "LockedDropout",
    "TextClassifier",
    "WeightDropLSTM",
    "generate",
]
