"""Text: spaCy tokenization with the lesson's rules, vocabularies, corpora, language-model streams,
classification batches."""

from datamodules.text.characters import CharacterDataModule
from datamodules.text.classification import TextClassificationDataModule
from datamodules.text.lm import LanguageModelDataModule
from datamodules.text.sentences import SentenceDataModule
from datamodules.text.tokenize import Tokenizer, detokenize
from datamodules.text.vocab import Vocab

__all__ = [
    "CharacterDataModule",
    "LanguageModelDataModule",
    "SentenceDataModule",
    "TextClassificationDataModule",
    "Tokenizer",
    "Vocab",
    "detokenize",
]
