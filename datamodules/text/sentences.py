"""Labelled sentences in the UCI *Sentiment Labelled Sentences* format (workshop activity 6.03).

Each line of a ``*_labelled.txt`` file is ``<sentence>\\t<0|1>``. The sentences become token ids over a
vocabulary of the training sentences, padded on the left so that a recurrent net's last step is the
sentence's last word; a seeded ``valid_pct`` of the sentences validates.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from datamodules.batching import InMemoryDataModule, TensorBatches
from datamodules.files import DataError
from datamodules.preprocessing.text import TextPreprocessing
from datamodules.samples.text import write_sentences_sample
from datamodules.source import DataSource
from datamodules.splits import check_valid_pct, random_split, valid_mask
from datamodules.text.readers import read_labelled

SAMPLE_NAME = "sentences-v1"
PAD, UNK = "xxpad", "xxunk"
TOKENIZERS = ("workshop", "spacy")
PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")


def workshop_tokens(sentence: str) -> list[str]:
    """The workshop's tokens: lowercased, punctuation removed, split on white space."""
    return PUNCTUATION.sub("", sentence.lower()).split()


class SentenceDataModule(InMemoryDataModule):
    """Every ``*_labelled.txt`` in ``data_dir`` (or ``files``; without either, the built-in sample).

    ``tokenizer`` is ``workshop`` (lowercase, no punctuation) or ``spacy`` (the project's tokenizer with the
    lesson's rules); words seen fewer than ``min_freq`` times in training become ``xxunk``; sentences
    are cut to their last ``max_len`` tokens.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        files: Sequence[str] | None = None,
        tokenizer: str = "workshop",
        min_freq: int = 1,
        max_len: int = 64,
        valid_pct: float = 0.2,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
    ) -> None:
        super().__init__()
        if tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {tokenizer!r}: choose one of {', '.join(TOKENIZERS)}")
        check_valid_pct(valid_pct)
        self.source = DataSource(data_dir=data_dir, cache_dir=cache_dir)
        self.files = list(files) if files is not None else None
        self.tokenizer = tokenizer
        self.min_freq = min_freq
        self.max_len = max_len
        self.valid_pct = valid_pct
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.itos: list[str] | None = None
        self.datasets: dict[str, TensorBatches] = {}

    @property
    def paths(self) -> list[Path]:
        """``files`` (inside ``data_dir`` when relative), else every ``*_labelled.txt`` of the folder."""
        if self.files is not None:
            folder = Path(self.source.data_dir) if self.source.data_dir is not None else None
            return [Path(f) if folder is None or Path(f).is_absolute() else folder / f for f in self.files]
        folder = self.source.resolve(SAMPLE_NAME, write_sentences_sample)
        paths = sorted(folder.glob("*_labelled.txt"))
        if not paths:
            raise DataError(f"no *_labelled.txt file in {folder}: give data.files=[...] or the UCI folder")
        return paths

    def tokens(self, sentences: list[str]) -> list[list[str]]:
        if self.tokenizer == "workshop":
            return [workshop_tokens(s) for s in sentences]
        from datamodules.text.tokenize import Tokenizer

        tokenize = Tokenizer()
        return [tokenize(s) for s in sentences]

    def prepare_data(self) -> None:
        self.setup("fit")

    def setup(self, stage: str | None = None) -> None:
        if self.itos is not None:
            return
        sentences, labels = [], []
        for path in self.paths:
            more, more_labels = read_labelled(path)
            sentences += more
            labels += more_labels
        tokens = self.tokens(sentences)
        _, valid = random_split(len(tokens), self.valid_pct, self.seed, what="sentences")
        is_valid = valid_mask(len(tokens), valid)
        counts = Counter(t for doc, v in zip(tokens, is_valid, strict=True) if not v for t in doc)
        self.itos = [PAD, UNK, *sorted(t for t, n in counts.items() if n >= self.min_freq)]
        stoi = {t: i for i, t in enumerate(self.itos)}
        ids = np.zeros((len(tokens), self.max_len), dtype=np.int64)
        for row, doc in enumerate(tokens):
            codes = [stoi.get(t, 1) for t in doc][-self.max_len :]
            if codes:
                ids[row, -len(codes) :] = codes
        x, y = torch.from_numpy(ids), torch.tensor(labels, dtype=torch.float32)
        mask = torch.from_numpy(is_valid)
        self.datasets = {"train": TensorBatches(x[~mask], y[~mask]), "valid": TensorBatches(x[mask], y[mask])}

    def preprocessing(self) -> TextPreprocessing:
        """The tokenizer and vocabulary a model trained here needs for new sentences (label 1: positive)."""
        self.setup("fit")
        return TextPreprocessing(self.itos, ["0", "1"], self.tokenizer, max_len=self.max_len, width=self.max_len)

    def predict_dataloader(self) -> DataLoader:
        return self.evaluation_loader("valid", sharded=False)

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``predictions.csv`` of the validation sentences: label, prediction, its probability and each label's."""
        labels = [str(label) for label in self.datasets["valid"].tensors[1].long().tolist()]
        frame = pd.DataFrame({"label": labels, **self.preprocessing().prediction_columns(torch.cat(predictions))})
        path = Path(out_dir) / "predictions.csv"
        frame.to_csv(path, index=False)
        return path

    @property
    def class_names(self) -> list[str]:
        """The files' labels, 0 and 1 (1: positive)."""
        return ["0", "1"]

    def valid_items(self, rows: Sequence[int]) -> list[str]:
        """Validation sentences as the model reads them (its tokens, unknown words as ``xxunk``)."""
        self.setup("fit")
        tokens = self.datasets["valid"].tensors[0][torch.as_tensor(list(rows), dtype=torch.long)]
        return [" ".join(self.itos[i] for i in row if i) for row in tokens.tolist()]

    def describe(self) -> dict:
        """The vocabulary size and the padding index, for the embedding."""
        self.setup("fit")
        return {"vocab_sz": len(self.itos), "pad_idx": 0}
