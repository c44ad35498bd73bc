"""Sequence models of the PyTorch workshop: recurrent nets over series and text."""

from lightning_models.sequence.char_lm import CharLanguageModel
from lightning_models.sequence.sentences import SentenceLSTM
from lightning_models.sequence.series import SeriesForecaster, SeriesRNN

__all__ = ["CharLanguageModel", "SentenceLSTM", "SeriesForecaster", "SeriesRNN"]
