"""Any text file as a stream of characters for a character-level language model (workshop activity 6.02).

The vocabulary is the file's characters; the first ``1 - valid_pct`` of the text trains and the rest
validates. Batches are ``batch_size`` contiguous rows of the stream in consecutive windows of ``bptt``
characters (the word language model's ``LMLoader``), so the model carries its state from batch to batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only

from datamodules.files import DataError, not_text, require_file
from datamodules.preprocessing.text import PromptPreprocessing
from datamodules.samples.text import write_story_sample
from datamodules.source import DataSource
from datamodules.splits import check_valid_pct
from datamodules.text.lm import LMLoader, stream_loader

SAMPLE_NAME = "story-v1"
SAMPLE_FILE = "story.txt"


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The file's text (a UTF-8 byte-order mark dropped, line endings as ``\n``), or a DataError for a file
    that is empty or not in ``encoding``."""
    try:
        text = require_file(path, "data.text_file").read_text(encoding="utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as e:
        hint = "; save it as UTF-8 or set data.encoding to the file's (e.g. latin-1)"
        raise not_text(path, e, encoding, hint) from None
    if not text:
        raise DataError(f"{path} is empty: a character model needs text to learn from")
    return text


class CharacterDataModule(pl.LightningDataModule):
    """The characters of ``text_file`` (inside ``data_dir``, or as given; without one, the built-in story),
    read as ``encoding`` (Project Gutenberg's Alice, as the workshop ships it, is latin-1)."""

    def __init__(
        self,
        data_dir: str | None = None,
        text_file: str | None = None,
        encoding: str = "utf-8",
        valid_pct: float = 0.1,
        batch_size: int = 100,
        bptt: int = 50,
        seed: int = 42,
        num_workers: int = 0,
        cache_dir: str = ".cache/fastlightning",
    ) -> None:
        super().__init__()
        check_valid_pct(valid_pct)
        self.source = DataSource(data_dir=data_dir, cache_dir=cache_dir)
        self.text_file = text_file
        self.encoding = encoding
        self.valid_pct = valid_pct
        self.batch_size = batch_size
        self.bptt = bptt
        self.seed = seed
        self.num_workers = num_workers
        self.itos: list[str] | None = None
        self.streams: dict[str, np.ndarray] = {}

    @property
    def text_path(self) -> Path:
        """``text_file`` inside ``data_dir`` (or as given, with no ``data_dir``), else the built-in story."""
        if self.text_file is not None and (self.source.data_dir is None or Path(self.text_file).is_absolute()):
            return Path(self.text_file)
        if self.text_file is None and self.source.data_dir is not None:
            raise DataError(f"set data.text_file to the text file inside {self.source.data_dir} (e.g. alice.txt)")
        return self.source.resolve(SAMPLE_NAME, write_story_sample) / (self.text_file or SAMPLE_FILE)

    def prepare_data(self) -> None:
        self.setup("fit")

    def setup(self, stage: str | None = None) -> None:
        if self.itos is not None:
            return
        path = self.text_path
        text = read_text(path, self.encoding)
        n_valid = round(self.valid_pct * len(text))
        if not 0 < n_valid < len(text) - 1:
            raise DataError(f"{path} has {len(text)} characters: too few to hold out valid_pct={self.valid_pct}")
        itos = sorted(set(text))
        ids = np.searchsorted(np.array(itos), np.array(list(text))).astype(np.int32)
        self.itos = itos
        self.streams = {"train": ids[: len(text) - n_valid], "valid": ids[len(text) - n_valid :]}

    def describe(self) -> dict:
        """The number of distinct characters: the model's input and output size."""
        self.setup("fit")
        return {"vocab_sz": len(self.itos)}

    def _loader(self, split: str, train: bool) -> LMLoader:
        """The text is one document, read in order every epoch (the workshop's fixed windows)."""
        ids = self.streams[split]
        offsets = np.array([0, len(ids)])
        return stream_loader(
            ids, offsets, self.batch_size, self.bptt, self.trainer, self.seed, train, shuffle=False, random_bptt=False
        )

    def train_dataloader(self) -> LMLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> LMLoader:
        return self._loader("valid", train=False)

    def preprocessing(self) -> PromptPreprocessing:
        """The characters in code order, for prompts to the model trained here."""
        self.setup("fit")
        return PromptPreprocessing(self.itos, characters=True)

    def unigram_loss(self) -> float:
        """Nats per validation character of the training characters' frequencies (add-one): the baseline."""
        counts = np.bincount(self.streams["train"], minlength=len(self.itos)) + 1.0
        return float(-np.log(counts / counts.sum())[self.streams["valid"]].mean())

    @rank_zero_only
    def export(self, out_dir: str | Path) -> None:
        """``vocab.json`` (the characters in code order), for ``generate.py``."""
        (Path(out_dir) / "vocab.json").write_text(json.dumps({"itos": self.itos}, ensure_ascii=False), encoding="utf-8")
