"""What the language-model and the classification data share: where the corpus comes from (``data_dir``,
a download or the built-in sample), its cached tokens, and the vocabulary with its id lookup."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from datamodules.samples import write_arxiv_sample, write_imdb_sample, write_sentences_sample, write_wikitext_sample
from datamodules.source import DataSource
from datamodules.text.corpora import TokenizedCorpus, open_corpus, tokenize_corpus
from datamodules.text.vocab import Vocab

SAMPLES = {
    "imdb": write_imdb_sample,
    "arxiv": write_arxiv_sample,
    "wikitext": write_wikitext_sample,
    "sentences": write_sentences_sample,
}
# the public dataset data.download=true fetches for a corpus (data.dataset picks another, e.g. wikitext-2)
DOWNLOADS = {"imdb": "imdb", "wikitext": "wikitext-103"}
# the built-in sample's folder name under cache_dir/samples (a new version when its generator changes)
SAMPLE_VERSION = "v5"


def vocab_file(vocab: Vocab, cache_dir: Path) -> Path:
    """``vocab`` as a ``vocab.json`` in the cache, named by its content (the path a model's hparams keep)."""
    digest = hashlib.sha256("\n".join(vocab.itos).encode()).hexdigest()[:16]
    path = Path(cache_dir) / "vocabs" / f"{digest}.json"
    if not path.is_file():
        vocab.save(path)
    return path


def gather_documents(ids: np.ndarray, offsets: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The documents ``docs`` (in that order) of the ragged array ``ids``/``offsets``, concatenated."""
    lengths = offsets[docs + 1] - offsets[docs]
    new_offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    shift = np.repeat(offsets[docs] - new_offsets[:-1], lengths)
    return ids[np.arange(new_offsets[-1]) + shift], new_offsets


def random_subset(docs: np.ndarray, max_docs: int | None, rng: np.random.Generator) -> np.ndarray:
    """``max_docs`` of ``docs`` drawn at random (sorted), or all of them when there are no more."""
    if max_docs is None or len(docs) <= max_docs:
        return docs
    return np.sort(rng.choice(docs, max_docs, replace=False))


class CorpusDataModule(pl.LightningDataModule):
    """A corpus (``data_dir``, else the download with ``download``, else the built-in sample), tokenized
    once into the cache by ``n_workers`` processes, and a vocabulary: ``vocab_path``'s, or built from
    the training documents (``max_vocab``, ``min_freq``). ``case_markers=False`` lowercases without
    ``xxmaj``/``xxup`` (fastai 0.7's lessons). Subclasses choose the documents in ``setup``."""

    def __init__(
        self,
        corpus: str,
        data_dir: str | None,
        vocab_path: str | None,
        max_vocab: int,
        min_freq: int,
        text_cols: list[str] | None,
        label_col: str | None,
        split_col: str | None,
        n_workers: int,
        num_workers: int,
        seed: int,
        cache_dir: str,
        download: bool,
        dataset: str | None,
        case_markers: bool,
    ) -> None:
        super().__init__()
        name = dataset or DOWNLOADS.get(corpus)
        if data_dir is None and download and name is None:
            raise ValueError(f"there is no public {corpus} dataset to download: set data.data_dir to your files")
        if data_dir is None and not download and corpus not in SAMPLES:
            raise ValueError(f"there is no built-in {corpus} sample: set data.data_dir to your files")
        self.corpus = corpus
        self.source = DataSource(data_dir, download, name, cache_dir=cache_dir)
        self.vocab_path = vocab_path
        self.max_vocab = max_vocab
        self.min_freq = min_freq
        self.columns = {"text_cols": text_cols, "label_col": label_col, "split_col": split_col}
        self.n_workers = n_workers
        self.case_markers = case_markers
        self.num_workers = num_workers
        self.seed = seed
        self.tokenized: TokenizedCorpus | None = None
        self.vocab: Vocab | None = None
        self.docs: dict[str, np.ndarray] = {}

    def folder(self) -> Path:
        """The corpus's folder: ``data_dir``, the downloaded dataset or the built-in sample (written once)."""
        return self.source.resolve(f"{self.corpus}-{SAMPLE_VERSION}", SAMPLES.get(self.corpus))

    def corpus_options(self) -> dict:
        """Keyword arguments of ``open_corpus`` besides the column names."""
        return {}

    def prepare_data(self) -> None:
        self._tokenize()

    def _tokenize(self) -> TokenizedCorpus:
        corpus = open_corpus(self.corpus, self.folder(), **self.corpus_options(), **self.columns)
        self.tokenized = tokenize_corpus(corpus, self.source.cache_dir, self.n_workers, self.case_markers)
        return self.tokenized

    def build_vocab(self, train: np.ndarray) -> None:
        """The vocabulary (``vocab_path``'s or the ``train`` documents') and the corpus-type -> id lookup."""
        tokens = self.tokenized.tokens
        if self.vocab_path is not None:
            self.vocab = Vocab.load(self.vocab_path)
        else:
            train_ids, _ = gather_documents(tokens.ids, tokens.offsets, train)
            counts = np.bincount(train_ids, minlength=len(tokens.types))
            self.vocab = Vocab.from_counts(tokens.types, counts, self.max_vocab, self.min_freq)
        self._to_vocab = self.vocab.lookup(tokens.types)
