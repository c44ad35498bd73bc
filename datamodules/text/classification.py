"""Text classification data: labelled documents as padded batches, sortish for training.

A batch is ``(tokens, lengths, labels, index)``: ``tokens`` (batch, width) padded first (each row's
``lengths[i]`` tokens at its end), the labels, and each document's position in its split, which
puts predictions back in the input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader, Dataset

from datamodules.batching import ResumableLoader, ResumableSampler, TensorLoader, ranks, tensor_loader
from datamodules.files import DataError
from datamodules.preprocessing.text import TextPreprocessing
from datamodules.splits import check_valid_pct, random_split
from datamodules.text.corpora import CORPORA, TokenizedCorpus
from datamodules.text.corpus_data import CorpusDataModule, gather_documents, random_subset, vocab_file

REPORTED_TOKENS = 40
"""The tokens of a document that ``valid_items`` shows (its start)."""


class PaddedDocuments(Dataset):
    """Documents of a ragged id array, returned as one padded batch per tensor of indices."""

    def __init__(
        self, ids: np.ndarray, offsets: np.ndarray, labels: np.ndarray, pad_idx: int, max_len: int | None = None
    ) -> None:
        self.ids = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))
        self.offsets = offsets
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.pad_idx = pad_idx
        self.lengths = np.diff(offsets)
        if max_len is not None:
            self.lengths = np.minimum(self.lengths, max_len)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Rows padded first; a document longer than ``max_len`` keeps its last ``max_len`` tokens."""
        lengths = torch.from_numpy(self.lengths[index.numpy()])
        tokens = torch.full((len(index), int(lengths.max())), self.pad_idx, dtype=torch.long)
        for row, (doc, n) in enumerate(zip(index.tolist(), lengths.tolist(), strict=True)):
            end = int(self.offsets[doc + 1])
            tokens[row, tokens.size(1) - n :] = self.ids[end - n : end]
        return tokens, lengths, self.labels[index], index


class SortishSampler(ResumableSampler):
    """Batches of document indices of similar lengths, sharded between DDP ranks.

    Training (``shuffle``): a permutation (seeded by ``seed`` and the epoch, the same on every rank) cut
    into chunks of ``batch_size * 50`` sorted by decreasing length, the batches shuffled with the longest
    one first (an out-of-memory error shows at once); rank r takes batches r, r + world, ... so all ranks
    take the same number of steps. Otherwise: all documents by decreasing length, each rank a
    contiguous share, nothing repeated or dropped (exact metrics).
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        super().__init__(seed, num_replicas, rank)
        self.lengths = lengths
        self.batch_size = batch_size
        self.shuffle = shuffle

    def epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        """This rank's batches in ``epoch``, as tensors of document indices."""
        return [torch.from_numpy(np.ascontiguousarray(b)) for b in self._index_batches(epoch)]

    def _index_batches(self, epoch: int) -> list[np.ndarray]:
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            share = np.array_split(order, self.num_replicas)[self.rank]
            return [share[i : i + self.batch_size] for i in range(0, len(share), self.batch_size)]
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        chunk = self.batch_size * 50
        order = np.concatenate(
            [c[np.argsort(-self.lengths[c], kind="stable")] for c in np.split(order, range(chunk, len(order), chunk))]
        )
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        longest = int(np.argmax([self.lengths[b[0]] for b in batches]))
        rest = [b for i, b in enumerate(batches) if i != longest]
        batches = [batches[longest]] + [rest[i] for i in rng.permutation(len(rest))]
        n_each = len(batches) // self.num_replicas
        if n_each == 0:
            raise DataError(f"{len(self.lengths)} documents make fewer batches than the {self.num_replicas} ranks")
        return batches[self.rank :: self.num_replicas][:n_each]

    def __len__(self) -> int:
        if self.shuffle:
            return -(-len(self.lengths) // self.batch_size) // self.num_replicas
        share = len(np.array_split(np.arange(len(self.lengths)), self.num_replicas)[self.rank])
        return -(-share // self.batch_size)


class TextClassificationDataModule(CorpusDataModule):
    """Labelled documents of a corpus (``corpus``: imdb, arxiv, folder, csv, sentences) for a text classifier.

    IMDB: neg/pos (unsup excluded); arXiv: the first (main) category; folders: the subfolder; CSV: the
    ``label_col`` with ``text_cols`` as fields; sentences: UCI's ``*_labelled.txt`` lines, labels 0/1.
    With ``data_dir=None`` the built-in sample is used. The vocabulary is a language model's
    ``vocab.json`` (``vocab_path``), or else built from the training documents. Validation: the
    corpus's own split, else ``valid_pct`` of the training documents, or the test documents with
    ``valid_pct=0`` (as the lesson did). ``max_train_docs`` / ``max_test_docs`` take a seeded random
    subset of the labelled training documents (before the validation ones are drawn from them) / of
    the test documents. Documents longer than ``max_len`` tokens keep their last ``max_len``.
    ``n_workers`` tokenizer processes; ``num_workers`` loader processes.
    """

    def __init__(
        self,
        corpus: str = "imdb",
        data_dir: str | None = None,
        vocab_path: str | None = None,
        batch_size: int = 64,
        max_len: int | None = None,
        valid_pct: float = 0.1,
        max_vocab: int = 60000,
        min_freq: int = 3,
        max_train_docs: int | None = None,
        max_test_docs: int | None = None,
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
        if corpus not in CORPORA or corpus == "wikitext":
            raise ValueError(
                f"unknown classification corpus {corpus!r}: choose one of imdb, arxiv, folder, csv, sentences"
            )
        check_valid_pct(valid_pct, allow_zero=True)
        super().__init__(
            corpus, data_dir, vocab_path, max_vocab, min_freq, text_cols, label_col, split_col,
            n_workers, num_workers, seed, cache_dir, download, dataset, case_markers,
        )  # fmt: skip
        self.batch_size = batch_size
        self.max_len = max_len
        self.valid_pct = valid_pct
        self.max_train_docs = max_train_docs
        self.max_test_docs = max_test_docs

    @property
    def label_names(self) -> list[str]:
        return self.tokenized.label_names

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        corpus = self.tokenized or self._tokenize()
        folder = self.folder()
        if len(corpus.label_names) < 2:
            raise DataError(
                f"{folder}: a classifier needs at least 2 labels, found {corpus.label_names or 'none'}; "
                f"check data.label_col"
            )
        rng = np.random.default_rng(self.seed)
        train = random_subset(corpus.split_indices("train", "", labelled=True), self.max_train_docs, rng)
        valid = corpus.split_indices("valid", labelled=True)
        # a generator of its own: the test documents kept do not depend on the training draws
        test_rng = np.random.default_rng(self.seed)
        test = random_subset(corpus.split_indices("test", labelled=True), self.max_test_docs, test_rng)
        if not len(train):
            raise DataError(f"{folder} has no labelled training documents")
        if not len(valid):
            if self.valid_pct == 0:
                if not len(test):
                    raise DataError(f"{folder} has no test documents to validate on; set data.valid_pct > 0")
                valid = test
            else:
                train, valid = random_split(train, self.valid_pct, rng, what="labelled training documents")
        self._check_labels_seen(corpus, train, {"validation": valid, "test": test})
        self.docs = {"train": train, "valid": valid, "test": test}
        self.build_vocab(train)

    def _check_labels_seen(self, corpus: TokenizedCorpus, train: np.ndarray, others: dict[str, np.ndarray]) -> None:
        """A label that no training document has cannot be learnt: name it and where it occurs."""
        known = set(corpus.labels[train].tolist())
        for split, docs in others.items():
            unseen = docs[~np.isin(corpus.labels[docs], list(known))]
            if len(unseen):
                names = sorted({corpus.label_names[c] for c in corpus.labels[unseen]})
                raise DataError(
                    f"{self.folder()}: {len(unseen)} {split} document(s) have label(s) that no training document has: "
                    f"{', '.join(map(repr, names[:5]))} (e.g. {corpus.names[unseen[0]]}); the classifier cannot "
                    f"learn them: add training documents with these labels or leave these documents out"
                )

    def dataset(self, split: str) -> PaddedDocuments:
        docs = self.docs[split]
        ids, offsets = gather_documents(self.tokenized.tokens.ids, self.tokenized.tokens.offsets, docs)
        return PaddedDocuments(
            self._to_vocab[ids], offsets, self.tokenized.labels[docs], self.vocab.pad_idx, self.max_len
        )

    def _loader(self, split: str, shuffle: bool) -> ResumableLoader:
        """Sortish batches of ``split``; the training loader's position is the trainer's, so a run resumes mid-epoch."""
        data = self.dataset(split)
        trainer = self.trainer
        sampler = SortishSampler(
            data.lengths,
            self.batch_size if shuffle else self.batch_size * 2,
            shuffle=shuffle,
            seed=self.seed,
            **ranks(trainer),
        )
        loader = ResumableLoader(
            data,
            sampler=sampler,
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
        loader.trainer = trainer if shuffle else None
        return loader

    def train_dataloader(self) -> ResumableLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> ResumableLoader:
        return self._loader("valid", shuffle=False)

    def report_dataloader(self) -> TensorLoader:
        """The validation documents in order (not by length), in one process: what the reports evaluate."""
        return tensor_loader(self.dataset("valid"), self.batch_size * 2, shuffle=False)

    @property
    def class_names(self) -> list[str]:
        return self.label_names

    def valid_items(self, rows: Sequence[int]) -> list[str]:
        """Each validation document's name and its first ``REPORTED_TOKENS`` tokens."""
        corpus = self.tokenized
        docs = self.docs["valid"][list(rows)]
        return [f"{corpus.names[d]}: {' '.join(corpus.tokens.document(d)[:REPORTED_TOKENS])}" for d in docs]

    @property
    def has_test_set(self) -> bool:
        """True when the corpus has labelled test documents (IMDB does; UCI's sentences do not)."""
        if self.vocab is None:
            self.setup("fit")
        return bool(len(self.docs["test"]))

    def test_dataloader(self) -> ResumableLoader | list:
        return self._loader("test", shuffle=False) if len(self.docs["test"]) else []

    @property
    def predict_split(self) -> str:
        """Predictions are made for the test documents, or the validation ones when there are none."""
        return "test" if len(self.docs["test"]) else "valid"

    def predict_dataloader(self) -> DataLoader:
        data = self.dataset(self.predict_split)
        sampler = SortishSampler(data.lengths, self.batch_size * 2, shuffle=False)
        return DataLoader(data, sampler=sampler, batch_size=None)

    def describe(self) -> dict:
        """What the model needs from the data: vocabulary size and file, padding index, number of classes."""
        if self.vocab is None:
            self.setup("fit")
        return {
            "vocab_sz": len(self.vocab),
            "pad_idx": self.vocab.pad_idx,
            "vocab_path": str(vocab_file(self.vocab, self.source.cache_dir)),
            "n_classes": len(self.label_names),
        }

    def preprocessing(self) -> TextPreprocessing:
        """The tokenizer settings, vocabulary and label names a classifier trained here needs for new text."""
        if self.vocab is None:
            self.setup("fit")
        return TextPreprocessing(
            self.vocab.itos, list(self.label_names), max_len=self.max_len, case_markers=self.case_markers
        )

    def write_predictions(self, predictions: list[dict[str, torch.Tensor]], out_dir: str | Path) -> Path:
        """``predictions.csv`` in the documents' order: name, label, prediction, its probability and every label's."""
        index = torch.cat([p["index"] for p in predictions]).numpy()
        probs = torch.cat([p["probs"] for p in predictions])
        order = np.argsort(index)
        docs = self.docs[self.predict_split][index[order]]
        names = self.label_names
        frame = pd.DataFrame(
            {
                "name": [self.tokenized.names[d] for d in docs],
                "label": [names[c] for c in self.tokenized.labels[docs]],
                **self.preprocessing().prediction_columns(probs[torch.from_numpy(order)]),
            }
        )
        path = Path(out_dir) / "predictions.csv"
        frame.to_csv(path, index=False)
        return path

    @rank_zero_only
    def export(self, out_dir: str | Path) -> None:
        """The vocabulary next to the run's checkpoints, so the classifier can be used on new text."""
        self.vocab.save(Path(out_dir) / "vocab.json")
