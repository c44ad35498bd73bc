"""The vocabulary: token strings <-> ids, specials first, saved as ``vocab.json``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from datamodules.files import DataError
from datamodules.text.tokenize import PAD, SPECIALS, UNK


class Vocab:
    """``itos``/``stoi`` with the special tokens first (``xxunk`` = 0, ``xxpad`` = 1, ...).

    Unknown tokens map to ``xxunk``.
    """

    def __init__(self, itos: Sequence[str]) -> None:
        if list(itos[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"a vocabulary starts with the special tokens {', '.join(SPECIALS)}")
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary cannot hold the same token twice")

    @classmethod
    def from_counts(
        cls, types: Sequence[str], counts: Sequence[int], max_vocab: int = 60000, min_freq: int = 3
    ) -> Vocab:
        """The specials, then the most frequent tokens seen at least ``min_freq`` times, ``max_vocab`` in all.

        ``min_freq=3`` keeps the words seen more than twice, as the lesson did. Ties keep the order of
        ``types`` (a ``TokenStream`` sorts them by count, then alphabetically).
        """
        if max_vocab < len(SPECIALS):
            raise ValueError(f"max_vocab must leave room for the {len(SPECIALS)} special tokens, got {max_vocab}")
        counts = np.asarray(counts)
        order = np.argsort(-counts, kind="stable")
        special = set(SPECIALS)
        words = [types[i] for i in order if counts[i] >= min_freq and types[i] not in special]
        return cls([*SPECIALS, *words[: max_vocab - len(SPECIALS)]])

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    @property
    def pad_idx(self) -> int:
        return self.stoi[PAD]

    @property
    def unk_idx(self) -> int:
        return self.stoi[UNK]

    def lookup(self, types: Iterable[str]) -> np.ndarray:
        """The id of each token string (``xxunk`` for unknown ones), as int32."""
        unk = self.unk_idx
        return np.fromiter((self.stoi.get(t, unk) for t in types), dtype=np.int32)

    def numericalize(self, tokens: Iterable[str]) -> np.ndarray:
        return self.lookup(tokens)

    def textify(self, ids: Iterable[int], sep: str = " ") -> str:
        return sep.join(self.itos[int(i)] for i in ids)

    def save(self, path: str | Path) -> Path:
        """Write ``vocab.json`` atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"itos": self.itos}, f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise DataError(
                f"vocabulary not found: {path} (a language-model run writes vocab.json to its run directory)"
            )
        try:
            itos = json.loads(path.read_text(encoding="utf-8"))["itos"]
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path} is not a vocab.json written by fastlightning ({e})") from None
        try:
            return cls(itos)
        except ValueError as e:
            raise DataError(f"{path}: {e}") from None
