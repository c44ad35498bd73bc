"""Text corpora (IMDB, arXiv abstracts, WikiText, folders of .txt, CSV columns): the reader of each
kind (see ``readers``), and the corpus tokenized once into a cache, with each document's split and label.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datamodules.cache import cached
from datamodules.files import DataError
from datamodules.text.readers import (
    SPLITS,
    Corpus,
    ImdbFolder,
    LabelledSentences,
    Tables,
    TextFolder,
    WikiText,
    find_table,
    tables_in,
)
from datamodules.text.tokenize import TokenizerSettings, TokenStream, tokenize_documents

CORPORA = ("imdb", "arxiv", "wikitext", "folder", "csv", "sentences")
# bumped whenever what the cache holds changes
CACHE_FORMAT = 2


def open_corpus(
    kind: str,
    data_dir: str | Path,
    text_cols: Sequence[str] | None = None,
    label_col: str | None = None,
    split_col: str | None = None,
    label_field: bool = False,
) -> Corpus:
    """The corpus of ``kind`` in ``data_dir`` (the folder or file as distributed).

    ``label_field`` (arXiv) makes the categories the first field of each document, as the lesson's
    language model saw them.
    """
    data_dir = Path(data_dir)
    if kind == "imdb":
        for root in (data_dir / "aclImdb", data_dir):
            if (root / "train").is_dir() or (root / "test").is_dir():
                return ImdbFolder(root)
        paths = tables_in(data_dir)
        return find_table(paths[0], text_cols, label_col, split_col, [("text", "review")], ("label", "sentiment"))
    if kind == "arxiv":
        return Tables(
            [
                find_table(
                    p,
                    text_cols,
                    label_col,
                    split_col,
                    [("title",), ("abstract", "summary")],
                    ("categories", "category", "tags"),
                    label_field,
                )
                for p in tables_in(data_dir)
            ]
        )
    if kind == "wikitext":
        return WikiText(data_dir)
    if kind == "folder":
        return TextFolder(data_dir)
    if kind == "sentences":
        return LabelledSentences(data_dir)
    if kind == "csv":
        paths = tables_in(data_dir)
        return find_table(paths[0], text_cols, label_col, split_col, [("text",)], ("label",))
    raise ValueError(f"unknown corpus {kind!r}: choose one of {', '.join(CORPORA)}")


@dataclass
class TokenizedCorpus:
    """The tokens of every document, with each document's split and label code."""

    tokens: TokenStream
    splits: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    names: list[str]

    def split_indices(self, *names: str, labelled: bool = False) -> np.ndarray:
        """The documents (sorted) of the named splits (``""``: the ones the distribution put in none);
        with ``labelled``, only those with a label."""
        keep = np.isin(self.splits, [SPLITS.index(n) for n in names])
        return np.flatnonzero(keep & (self.labels >= 0) if labelled else keep)


def tokenize_corpus(
    corpus: Corpus, cache_dir: str | Path, n_workers: int = 2, case_markers: bool = True
) -> TokenizedCorpus:
    """The tokenized corpus, from the cache or tokenized once (in ``n_workers`` processes) and stored."""
    settings = TokenizerSettings(pre_tokenized=corpus.pre_tokenized, case_markers=case_markers)

    def build() -> tuple[dict[str, np.ndarray], dict]:
        splits: list[int] = []
        labels: list[str] = []
        names: list[str] = []

        def fields() -> Iterator[tuple[str, ...]]:
            for doc in corpus.documents():
                splits.append(SPLITS.index(doc.split))
                labels.append(doc.label)
                names.append(doc.name)
                yield doc.fields

        tokens = tokenize_documents(fields(), settings, n_workers=n_workers)
        if len(tokens) == 0:
            raise DataError(f"the corpus has no documents ({corpus.key()})")
        label_names = sorted(set(labels) - {""})
        code = {name: i for i, name in enumerate(label_names)}
        arrays = {
            "ids": tokens.ids,
            "offsets": tokens.offsets,
            "counts": tokens.counts,
            "splits": np.array(splits, dtype=np.int8),
            "labels": np.array([code.get(label, -1) for label in labels], dtype=np.int32),
        }
        return arrays, {"types": tokens.types, "label_names": label_names, "names": names}

    key = {"corpus": corpus.key(), "tokenizer": settings.key(), "format": CACHE_FORMAT}
    arrays, meta = cached(cache_dir, "text", key, build)
    tokens = TokenStream(arrays["ids"], arrays["offsets"], meta["types"], arrays["counts"])
    return TokenizedCorpus(tokens, arrays["splits"], arrays["labels"], meta["label_names"], meta["names"])
