"""Readers of text corpora as distributed (the aclImdb tree, CSV / JSON-lines tables, WikiText, folders
of .txt files, UCI's labelled sentences): each reads its files as a stream of documents and knows what
identifies their content.

A corpus yields ``Document``s: the text fields, the split the distribution put it in (``train``,
``valid``, ``test``, ``unsup`` or ``""`` when it says nothing), its label (``""`` if none) and a
name that finds it again (a file path, a row number or id).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.cache import file_fingerprint
from datamodules.files import DataError, not_text, require_file

SPLITS = ("train", "valid", "test", "unsup", "")


@dataclass(frozen=True)
class Document:
    fields: tuple[str, ...]
    split: str = ""
    label: str = ""
    name: str = ""


def folder_fingerprint(folder: Path, suffix: str) -> str:
    """A hash of the names, sizes and modification times of every ``*suffix`` file under ``folder``."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    stack = [folder]
    entries = []
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif entry.name.endswith(suffix):
                    stat = entry.stat()
                    entries.append(f"{entry.path}\t{stat.st_size}\t{stat.st_mtime_ns}")
    for line in sorted(entries):
        digest.update(line.encode())
    return digest.hexdigest()


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The numbered lines of a utf-8 file, streamed; a byte that is not utf-8 is a DataError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            yield from enumerate(f, 1)
    except UnicodeDecodeError as e:
        raise not_text(path, e) from None


def read_text_file(path: Path) -> str:
    """The text of a utf-8 file; any other encoding is a DataError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise not_text(path, e) from None


class Corpus:
    """Base: a corpus knows its files, how to read them and what identifies their content."""

    pre_tokenized = False

    def key(self) -> dict:
        """Plain settings and file fingerprints: the cache key of the tokenized corpus."""
        raise NotImplementedError

    def documents(self) -> Iterator[Document]:
        raise NotImplementedError


class ImdbFolder(Corpus):
    """The ``aclImdb`` tree: ``train/{pos,neg,unsup}``, ``test/{pos,neg}``, files ``ID_RATING.txt``."""

    PARTS = (("train", "pos"), ("train", "neg"), ("train", "unsup"), ("test", "pos"), ("test", "neg"))

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folders = [(root / split / label, split, label) for split, label in self.PARTS]
        if not any(folder.is_dir() for folder, _, _ in self.folders):
            raise DataError(
                f"{root} is not an aclImdb folder: expected train/pos, train/neg, train/unsup, test/pos, test/neg"
            )

    def key(self) -> dict:
        return {"imdb": [folder_fingerprint(f, ".txt") for f, _, _ in self.folders if f.is_dir()]}

    @staticmethod
    def _review_id(path: Path) -> tuple[int, str]:
        head = path.stem.split("_")[0]
        return (int(head), path.name) if head.isdigit() else (-1, path.name)

    def documents(self) -> Iterator[Document]:
        for folder, split, label in self.folders:
            if not folder.is_dir():
                continue
            unsup = label == "unsup"
            for path in sorted(folder.glob("*.txt"), key=self._review_id):
                name = str(path.relative_to(self.root))
                yield Document((read_text_file(path),), "unsup" if unsup else split, "" if unsup else label, name)


def _csv_columns(path: Path, what: str) -> list[str]:
    try:
        return list(pd.read_csv(path, nrows=0).columns)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a header row naming the {what} columns") from None
    except UnicodeDecodeError as e:
        raise not_text(path, e) from None


def _pick(columns: Sequence[str], given: str | None, candidates: Sequence[str], path: Path, what: str) -> str | None:
    """The column ``given``, or the first of ``candidates`` present; a DataError if ``given`` is missing."""
    if given is not None:
        if given not in columns:
            raise DataError(f"{path} has no {what} column {given!r}; found: {', '.join(columns)}")
        return given
    return next((c for c in candidates if c in columns), None)


def _split_value(value) -> str:
    """A split column's value: a split name, or a boolean ``is_valid``."""
    if isinstance(value, (bool, np.bool_)):
        return "valid" if value else "train"
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return "valid"
    if text in ("false", "0"):
        return "train"
    if text in ("validation", "val", "dev"):
        return "valid"
    if text not in SPLITS:
        raise DataError(f"unknown split {value!r}: use one of train, valid, test, unsup (or a boolean is_valid)")
    return text


class TextTable(Corpus):
    """Rows of a CSV (or JSON-lines) file: text columns become fields; optional label and split columns.

    Several labels in one cell (separated by spaces or commas, or a JSON list) keep the first as the label.
    """

    def __init__(
        self,
        path: Path,
        text_cols: Sequence[str],
        label_col: str | None = None,
        split_col: str | None = None,
        label_field: bool = False,
    ) -> None:
        self.path = path
        self.text_cols = list(text_cols)
        self.label_col = label_col
        self.split_col = split_col
        self.label_field = label_field

    def key(self) -> dict:
        return {
            "table": file_fingerprint(self.path),
            "text_cols": self.text_cols,
            "label_col": self.label_col,
            "split_col": self.split_col,
            "label_field": self.label_field,
        }

    def _rows(self) -> Iterator[dict]:
        if self.path.suffix in (".jsonl", ".json"):
            for n, line in read_lines(self.path):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as e:
                        raise DataError(f"{self.path} line {n} is not a JSON object ({e.msg})") from None
            return
        try:
            for chunk in pd.read_csv(self.path, chunksize=10000, dtype=str, keep_default_na=False):
                yield from chunk.to_dict("records")
        except UnicodeDecodeError as e:
            raise not_text(self.path, e) from None

    @staticmethod
    def _labels(value) -> list[str]:
        if isinstance(value, list):
            return [str(v) for v in value]
        return [v for v in re.split(r"[\s,;]+", str(value).strip()) if v]

    def documents(self) -> Iterator[Document]:
        for n, row in enumerate(self._rows(), 1):
            missing = [c for c in (*self.text_cols, self.label_col, self.split_col) if c and c not in row]
            if missing:
                raise DataError(f"{self.path}: a row has no {', '.join(map(repr, missing))} (found: {', '.join(row)})")
            labels = self._labels(row[self.label_col]) if self.label_col else []
            fields = tuple("" if row[c] is None else str(row[c]) for c in self.text_cols)
            if self.label_field:
                fields = (" ".join(labels), *fields)
            split = _split_value(row[self.split_col]) if self.split_col else ""
            name = f"{self.path.name}:{row.get('id', n)}"
            yield Document(fields, split, labels[0] if labels else "", name)


class Tables(Corpus):
    """Several tables read one after the other (an arXiv folder of CSV / JSON-lines files)."""

    def __init__(self, tables: Sequence[TextTable]) -> None:
        self.tables = list(tables)

    def key(self) -> dict:
        return {"tables": [t.key() for t in self.tables]}

    def documents(self) -> Iterator[Document]:
        for table in self.tables:
            yield from table.documents()


class WikiText(Corpus):
    """``wiki.{train,valid,test}.tokens``: already tokenized, split into articles at the `` = Title = `` lines."""

    pre_tokenized = True
    FILES = (("train", "wiki.train.tokens"), ("valid", "wiki.valid.tokens"), ("test", "wiki.test.tokens"))
    _TITLE = re.compile(r"^ = [^=].* = $")

    def __init__(self, root: Path) -> None:
        self.root = root
        missing = [name for _, name in self.FILES if not (root / name).is_file()]
        if missing:
            raise DataError(f"{root} is not a WikiText folder: {', '.join(missing)} not found")

    def key(self) -> dict:
        return {"wikitext": [file_fingerprint(self.root / name) for _, name in self.FILES]}

    def documents(self) -> Iterator[Document]:
        for split, name in self.FILES:
            article: list[str] = []
            start = 1
            for n, line in read_lines(self.root / name):
                if self._TITLE.match(line.rstrip("\n")) and "".join(article).strip():
                    yield Document(("".join(article),), split, name=f"{name}:{start}")
                    article, start = [], n
                article.append(line)
            if "".join(article).strip():
                yield Document(("".join(article),), split, name=f"{name}:{start}")


class TextFolder(Corpus):
    """Any folder of ``.txt`` files: ``[split/][label/]name.txt`` (split: train, valid, test or unsup)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise DataError(f"text folder not found: {root}")

    def key(self) -> dict:
        return {"folder": folder_fingerprint(self.root, ".txt")}

    def documents(self) -> Iterator[Document]:
        paths = sorted(self.root.rglob("*.txt"))
        if not paths:
            raise DataError(f"no .txt files under {self.root}")
        for path in paths:
            parts = path.relative_to(self.root).parts[:-1]
            split = parts[0] if parts and parts[0] in SPLITS else ""
            rest = parts[1:] if split else parts
            yield Document((read_text_file(path),), split, rest[0] if rest else "", str(path.relative_to(self.root)))


def read_labelled(path: Path) -> tuple[list[str], list[int]]:
    """The sentences and their 0/1 labels, or a DataError naming the file and line that is not ``sentence\\t0|1``."""
    try:
        text = require_file(path, "a labelled-sentences file").read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise not_text(path, e) from None
    sentences, labels = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        sentence, tab, label = line.rpartition("\t")
        if not tab or label.strip() not in ("0", "1"):
            raise DataError(
                f"{path}, line {number}: expected '<sentence><TAB><0 or 1>', got {line[-40:]!r}; "
                f"every line is a sentence, a tab and its label"
            )
        sentences.append(sentence)
        labels.append(int(label))
    if not sentences:
        raise DataError(f"{path} is empty: expected '<sentence><TAB><0 or 1>' lines")
    return sentences, labels


class LabelledSentences(Corpus):
    """UCI's *Sentiment Labelled Sentences*: every ``*_labelled.txt`` of a folder (or one such file), each
    line ``<sentence><TAB><0|1>``; the label is "0" or "1" and the files say nothing of splits."""

    def __init__(self, data_dir: Path) -> None:
        self.paths = [data_dir] if data_dir.is_file() else sorted(data_dir.glob("*_labelled.txt"))
        if not self.paths:
            raise DataError(f"no *_labelled.txt file in {data_dir}: give the UCI folder or one of its files")

    def key(self) -> dict:
        return {"sentences": [file_fingerprint(p) for p in self.paths]}

    def documents(self) -> Iterator[Document]:
        for path in self.paths:
            sentences, labels = read_labelled(path)
            for i, (sentence, label) in enumerate(zip(sentences, labels, strict=True)):
                yield Document((sentence,), label=str(label), name=f"{path.name}#{i}")


def tables_in(data_dir: Path) -> list[Path]:
    """``data_dir`` itself if it is a file, else the CSV / JSON-lines files in it."""
    if data_dir.is_file():
        return [data_dir]
    if not data_dir.is_dir():
        raise DataError(f"data folder not found: {data_dir}")
    found = sorted(p for p in data_dir.iterdir() if p.suffix in (".csv", ".jsonl", ".json"))
    if not found:
        raise DataError(f"no .csv, .jsonl or .json file in {data_dir}")
    return found


def find_table(
    path: Path,
    text_cols: Sequence[str] | None,
    label_col: str | None,
    split_col: str | None,
    default_text: Sequence[Sequence[str]],
    default_label: Sequence[str],
    label_field: bool = False,
) -> TextTable:
    """A TextTable whose columns are the given ones or found among the usual names."""
    if path.suffix in (".jsonl", ".json"):
        first = next((line for _, line in read_lines(path) if line.strip()), "")
        try:
            columns = list(json.loads(first)) if first else []
        except json.JSONDecodeError as e:
            raise DataError(f"{path} is not JSON lines ({e.msg} in its first line)") from None
    else:
        columns = _csv_columns(path, "text")
    if text_cols:
        chosen = [_pick(columns, c, (), path, "text") for c in text_cols]
    else:
        chosen = [_pick(columns, None, names, path, "text") for names in default_text]
        if None in chosen:
            wanted = " and ".join("/".join(names) for names in default_text)
            raise DataError(f"{path}: expected text columns {wanted}, found: {', '.join(columns)}; set data.text_cols")
    label = _pick(columns, label_col, default_label, path, "label")
    split = _pick(columns, split_col, ("split", "is_valid"), path, "split")
    return TextTable(path, chosen, label, split, label_field and label is not None)
