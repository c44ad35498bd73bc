"""AWD-LSTM language models and ULMFiT classifiers.

Imported eagerly, unlike the other packages' exports: nothing here is heavy, and ``generate`` shares
its module's name, which Python binds on this package when the module is imported, hiding a lazy export.
"""

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
