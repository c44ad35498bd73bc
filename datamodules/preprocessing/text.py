"""Raw strings for a trained text classifier: its tokenizer, vocabulary and label names."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from datamodules.preprocessing.base import InputError, Preprocessing, as_list, class_columns

PAD, UNK = "xxpad", "xxunk"
TOKENIZERS = ("spacy", "workshop")


@functools.cache
def word_tokenizer(pre_tokenized: bool, case_markers: bool) -> Callable[[str], list[str]]:
    """The training text's tokenizer, built once per setting (spaCy is imported on first use)."""
    from datamodules.text.tokenize import Tokenizer, TokenizerSettings

    return Tokenizer(TokenizerSettings(pre_tokenized=pre_tokenized, case_markers=case_markers))


@dataclasses.dataclass
class TextPreprocessing(Preprocessing):
    """Strings -> tokens (the training text's tokenizer) -> ids -> rows padded first -> class probabilities.

    A batch is ``(tokens, lengths, labels, index)`` as the classification data gives it (labels unknown:
    -1); ``max_len`` keeps a text's last tokens, as in training; ``width`` pads every row to that width
    (a model that reads a fixed number of steps, as the workshop's sentence LSTM) instead of the longest.
    """

    kind = "text"

    itos: list[str]
    classes: list[str]
    tokenizer: str = "spacy"
    pre_tokenized: bool = False
    case_markers: bool = True
    max_len: int | None = None
    width: int | None = None

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise InputError(
                f"unknown tokenizer {self.tokenizer!r} in preprocessing.json: expected one of {TOKENIZERS}"
            )
        self._stoi = {s: i for i, s in enumerate(self.itos)}
        self._tokenize = None

    def tokens(self, text: str) -> list[str]:
        """The text's tokens, made as the training text's were."""
        if self._tokenize is None:
            if self.tokenizer == "workshop":
                from datamodules.text.sentences import workshop_tokens

                self._tokenize = workshop_tokens
            else:
                self._tokenize = word_tokenizer(self.pre_tokenized, self.case_markers)
        return self._tokenize(text)

    def rows(self, inputs: Any) -> list[str]:
        texts = as_list(inputs, (str,), "texts to classify")
        for i, text in enumerate(texts):
            if not text.strip():
                raise InputError(f"texts to classify: text {i} is empty")
        return texts

    def encode(self, rows: list[str]) -> tuple[torch.Tensor, ...]:
        unk = self._stoi[UNK]
        docs = [[self._stoi.get(t, unk) for t in self.tokens(text)] for text in rows]
        if self.max_len is not None:
            docs = [doc[-self.max_len :] for doc in docs]
        width = self.width or max(len(doc) for doc in docs)
        tokens = torch.full((len(docs), width), self._stoi[PAD], dtype=torch.long)
        for row, doc in enumerate(docs):
            if doc:
                tokens[row, width - len(doc) :] = torch.tensor(doc)
        lengths = torch.tensor([len(doc) for doc in docs])
        return tokens, lengths, torch.full((len(docs),), -1), torch.arange(len(docs))

    def prediction_columns(self, probs: torch.Tensor) -> dict[str, Any]:
        return class_columns(probs, self.classes)

    def table(self, rows: list[str], outputs: list[Any]) -> pd.DataFrame:
        probs = torch.cat([o["probs"] if isinstance(o, dict) else o for o in outputs])
        return pd.DataFrame({"text": rows, **self.prediction_columns(probs)})


@dataclasses.dataclass
class PromptPreprocessing(Preprocessing):
    """Prompts for a trained language model: tokens as the training text's (or its characters), and back.

    A language model predicts by generating, token by token, so there is no single batch to encode: the
    predictor tokenizes each prompt with ``tokens`` and writes the generated tokens with ``text``.
    """

    kind = "prompts"

    itos: list[str]
    characters: bool = False
    pre_tokenized: bool = False
    case_markers: bool = True

    def tokens(self, prompt: str) -> list[str]:
        if self.characters:
            return list(prompt)
        return word_tokenizer(self.pre_tokenized, self.case_markers)(prompt)

    def text(self, tokens: list[str]) -> str:
        """Readable text: characters joined, word tokens detokenized (capitals and repetitions restored)."""
        if self.characters:
            return "".join(tokens)
        from datamodules.text.tokenize import detokenize

        return detokenize(tokens)

    def rows(self, inputs: Any) -> list[str]:
        return as_list(inputs, (str,), "prompts")
