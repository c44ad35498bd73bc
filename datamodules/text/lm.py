"""Language-model data: one token stream, ``batch_size`` contiguous rows, consecutive windows of ~``bptt``.

As the lesson's loader: every epoch concatenates the documents (shuffled for training) into one
stream; under DDP each rank takes its own contiguous slice of it; the slice is cut into
``batch_size`` rows, and the batches are consecutive windows of those rows, so batch i+1 continues
every row of batch i (the model carries its hidden state across). Training windows vary in length:
``bptt`` 95% of the time, else ``bptt / 2``, then normal with sd 5, at least 5 (the lesson's draw);
the epoch's draws are scaled by one common factor so that a fixed number of windows covers each row
exactly once. Everything random is seeded by ``seed`` and the epoch, the same on every rank, and the
loader's position (epoch, batches) is a ``state_dict`` that Lightning saves in checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from datamodules.batching import ResumableSampler, SavesPosition, ranks
from datamodules.files import DataError
from datamodules.preprocessing.text import PromptPreprocessing
from datamodules.splits import check_valid_pct, random_split
from datamodules.text.corpora import CORPORA
from datamodules.text.corpus_data import CorpusDataModule, gather_documents, random_subset, vocab_file


def window_bounds(n_tokens: int, bptt: int, random: bool, generator: np.random.Generator | None = None) -> np.ndarray:
    """Window boundaries 0 = b_0 < b_1 < ... < b_n = n_tokens over a row of ``n_tokens + 1`` tokens.

    Fixed windows are ``bptt`` long (the last one shorter). Random windows: ``n = round(n_tokens / bptt)``
    lengths drawn as the lesson did, scaled by one factor to sum to ``n_tokens``.
    """
    if n_tokens < 1:
        raise ValueError("a row needs at least 2 tokens to make a window")
    if not random:
        return np.append(np.arange(0, n_tokens, bptt), n_tokens)
    n = min(n_tokens, max(1, round(n_tokens / bptt)))
    means = np.where(generator.random(n) < 0.95, bptt, bptt / 2)
    lengths = np.maximum(5, generator.normal(means, 5).astype(np.int64))
    bounds = np.round(np.cumsum(lengths) * (n_tokens / lengths.sum())).astype(np.int64)
    bounds = np.concatenate([[0], bounds])
    steps = np.arange(n + 1)
    bounds = np.maximum.accumulate(bounds - steps) + steps
    bounds = np.minimum(bounds, n_tokens - (n - steps))
    return bounds


class BpttSampler(ResumableSampler):
    """The windows ``(start, end)`` of one epoch over rows of ``row_len`` tokens, the same on every rank.

    Lightning calls ``set_epoch`` at each epoch start (through the loader's ``sampler`` attribute);
    without it the epoch advances after every pass. A pass that is abandoned (Lightning's sanity
    check reads two batches) leaves no trace: the next pass starts at the epoch's first window,
    unless ``load_state_dict`` said where to go on.
    """

    def __init__(
        self, row_len: int, bptt: int, random: bool, seed: int = 0, num_replicas: int = 1, rank: int = 0
    ) -> None:
        if bptt < 1:
            raise ValueError(f"bptt must be at least 1, got {bptt}")
        super().__init__(seed, num_replicas, rank)
        self.row_len = row_len
        self.bptt = bptt
        self.random = random

    def bounds(self, epoch: int) -> np.ndarray:
        """The window boundaries of ``epoch`` (random ones seeded by ``seed`` and the epoch)."""
        generator = np.random.default_rng([self.seed, epoch]) if self.random else None
        return window_bounds(self.row_len - 1, self.bptt, self.random, generator)

    def epoch_batches(self, epoch: int) -> list[tuple[int, int]]:
        bounds = self.bounds(epoch).tolist()
        return list(zip(bounds[:-1], bounds[1:], strict=True))

    def __len__(self) -> int:
        return len(self.bounds(self.epoch)) - 1


class LMLoader(SavesPosition):
    """Batches ``(x, y)`` of shape (batch_size, window) from the documents ``ids[offsets[i]:offsets[i+1]]``.

    ``y`` is ``x`` shifted by one token. ``shuffle`` reorders the documents every epoch before they
    are concatenated. This rank reads the ``rank``-th of ``num_replicas`` equal contiguous slices
    of the stream, so all ranks take the same number of steps. Its position (the sampler's, or with a
    ``trainer`` the trainer's) is a state dict that Lightning saves in checkpoints.
    """

    def __init__(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        batch_size: int,
        bptt: int,
        shuffle: bool,
        random_bptt: bool,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.ids = ids
        self.offsets = offsets
        self.batch_size = batch_size
        self.shuffle = shuffle
        row_len = len(ids) // num_replicas // batch_size
        if row_len < 2:
            raise DataError(
                f"a stream of {len(ids)} tokens is too short for {num_replicas} x {batch_size} rows of at least "
                f"2 tokens; lower batch_size or use more text"
            )
        self.sampler = BpttSampler(row_len, bptt, random_bptt, seed, num_replicas, rank)
        # Lightning looks for both attributes, calls sampler.set_epoch and injects no sampler of its own
        self.batch_sampler = None

    def rows(self, epoch: int) -> torch.Tensor:
        """This rank's (batch_size, row_len) tokens in ``epoch``."""
        sampler = self.sampler
        stream = self.ids
        if self.shuffle:
            order = np.random.default_rng([sampler.seed, epoch, 1]).permutation(len(self.offsets) - 1)
            stream, _ = gather_documents(self.ids, self.offsets, order)
        share = len(stream) // sampler.num_replicas
        start = sampler.rank * share
        mine = stream[start : start + self.batch_size * sampler.row_len]
        return torch.from_numpy(np.ascontiguousarray(mine)).view(self.batch_size, sampler.row_len)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rows = self.rows(self.sampler.epoch)
        for start, end in self.sampler:
            yield rows[:, start:end].long(), rows[:, start + 1 : end + 1].long()


def stream_loader(
    ids: np.ndarray,
    offsets: np.ndarray,
    batch_size: int,
    bptt: int,
    trainer: pl.Trainer | None,
    seed: int,
    train: bool,
    shuffle: bool,
    random_bptt: bool,
) -> LMLoader:
    """An ``LMLoader`` sharded over the trainer's ranks; a training one saves the trainer's position in checkpoints."""
    loader = LMLoader(
        ids,
        offsets,
        batch_size,
        bptt,
        shuffle=shuffle,
        random_bptt=random_bptt,
        seed=seed,
        **ranks(trainer),
    )
    if train:
        loader.trainer = trainer
    return loader


class LanguageModelDataModule(CorpusDataModule):
    """The token streams of a corpus for a language model (``corpus``: imdb, arxiv, wikitext, folder, csv, sentences).

    ``data_dir`` is the corpus as distributed (the ``aclImdb`` tree or an IMDB CSV, the arXiv CSV /
    JSON-lines files, the three WikiText files, a folder of ``.txt`` files, a CSV with ``text_cols``);
    with ``data_dir=None`` a built-in synthetic sample of the corpus is written and used. A corpus that
    comes with a validation split (WikiText) keeps it, and its test split is the test set; otherwise
    every document (IMDB: train + unsup + test texts) goes into the stream and ``valid_pct`` of them,
    chosen at random, are held out for validation, as the lesson did. The vocabulary is built from the
    training documents (``max_vocab``, ``min_freq``), or read from ``vocab_path``. ``max_docs`` takes a
    seeded random subset of the documents (of the training ones when the corpus has its own
    validation split). ``n_workers``
    tokenizer processes fill the cache; the batches are slices of one tensor, so ``num_workers``
    (loader processes) is not used by this module.
    """

    def __init__(
        self,
        corpus: str = "imdb",
        data_dir: str | None = None,
        batch_size: int = 64,
        bptt: int = 70,
        valid_pct: float = 0.1,
        max_vocab: int = 60000,
        min_freq: int = 3,
        vocab_path: str | None = None,
        max_docs: int | None = None,
        text_cols: list[str] | None = None,
        label_col: str | None = None,
        split_col: str | None = None,
        n_workers: int = 2,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
        download: bool = False,
        dataset: str | None = None,
        case_markers: bool = True,
    ) -> None:
        if corpus not in CORPORA:
            raise ValueError(f"unknown corpus {corpus!r}: choose one of {', '.join(CORPORA)}")
        check_valid_pct(valid_pct)
        super().__init__(
            corpus, data_dir, vocab_path, max_vocab, min_freq, text_cols, label_col, split_col,
            n_workers, num_workers, seed, cache_dir, download, dataset, case_markers,
        )  # fmt: skip
        self.batch_size = batch_size
        self.bptt = bptt
        self.valid_pct = valid_pct
        self.max_docs = max_docs

    def corpus_options(self) -> dict:
        """arXiv's category is a field of the text (the lesson's language model saw it)."""
        return {"label_field": self.corpus == "arxiv"}

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        corpus = self.tokenized or self._tokenize()
        rng = np.random.default_rng(self.seed)
        valid = corpus.split_indices("valid")
        if len(valid):
            train = random_subset(corpus.split_indices("train", "unsup", ""), self.max_docs, rng)
            test = corpus.split_indices("test")
        else:
            every = random_subset(np.arange(len(corpus.splits)), self.max_docs, rng)
            train, valid = random_split(every, self.valid_pct, rng, what="documents")
            test = every[:0]
        self.docs = {"train": train, "valid": valid, "test": test}
        self.build_vocab(train)

    def stream(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids (int32) and document offsets of the documents of ``split`` (train, valid, test)."""
        tokens = self.tokenized.tokens
        ids, offsets = gather_documents(tokens.ids, tokens.offsets, self.docs[split])
        return self._to_vocab[ids], offsets

    def _loader(self, split: str, train: bool) -> LMLoader:
        ids, offsets = self.stream(split)
        try:
            return stream_loader(
                ids, offsets, self.batch_size, self.bptt, self.trainer, self.seed, train, shuffle=train,
                random_bptt=train,
            )  # fmt: skip
        except DataError as e:
            raise DataError(f"{self.folder()}, the {split} documents: {e}") from None

    def train_dataloader(self) -> LMLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> LMLoader:
        return self._loader("valid", train=False)

    def test_dataloader(self) -> LMLoader | list:
        return self._loader("test", train=False) if len(self.docs["test"]) else []

    def describe(self) -> dict:
        """What the model needs from the data: vocabulary size, padding index and where the vocabulary is."""
        if self.vocab is None:
            self.setup("fit")
        return {
            "vocab_sz": len(self.vocab),
            "pad_idx": self.vocab.pad_idx,
            "vocab_path": str(vocab_file(self.vocab, self.source.cache_dir)),
        }

    def preprocessing(self) -> PromptPreprocessing:
        """The vocabulary and tokenizer settings for prompts to the model trained here."""
        if self.vocab is None:
            self.setup("fit")
        return PromptPreprocessing(
            self.vocab.itos, pre_tokenized=self.corpus == "wikitext", case_markers=self.case_markers
        )

    def unigram_perplexity(self, split: str = "valid") -> float:
        """Perplexity on ``split`` of the training tokens' unigram frequencies (add-one smoothed): the baseline."""
        train, _ = self.stream("train")
        ids, _ = self.stream(split)
        counts = np.bincount(train, minlength=len(self.vocab)) + 1.0
        log_p = np.log(counts / counts.sum())
        return float(np.exp(-log_p[ids].mean()))

    @rank_zero_only
    def export(self, out_dir: str | Path) -> None:
        """``vocab.json`` next to the model's ``encoder.pt``, for a classifier or a generation run."""
        self.vocab.save(Path(out_dir) / "vocab.json")
