"""Corpus readers (IMDB tree and CSV, arXiv CSV and JSON lines, WikiText, text folders) and the token cache."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import datamodules.text.corpora as corpora
from datamodules.files import DataError
from datamodules.samples import write_arxiv_sample, write_imdb_sample, write_wikitext_sample
from datamodules.text.corpora import open_corpus, tokenize_corpus


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_imdb_tree_gives_splits_labels_in_id_order(tmp_path):
    root = tmp_path / "aclImdb"
    _write(root / "train/pos/10_9.txt", "Ten")
    _write(root / "train/pos/2_8.txt", "Two")
    _write(root / "train/neg/0_1.txt", "Bad")
    _write(root / "train/unsup/5_0.txt", "Unlabelled")
    _write(root / "test/neg/1_2.txt", "Worse")
    _write(root / "train/urls_pos.txt", "http://not-a-review")
    docs = list(open_corpus("imdb", tmp_path).documents())
    assert [(d.fields, d.split, d.label) for d in docs] == [
        (("Two",), "train", "pos"),
        (("Ten",), "train", "pos"),
        (("Bad",), "train", "neg"),
        (("Unlabelled",), "unsup", ""),
        (("Worse",), "test", "neg"),
    ]
    assert [d.fields for d in open_corpus("imdb", root).documents()] == [d.fields for d in docs]


def test_imdb_csv_form(tmp_path):
    pd.DataFrame({"label": ["pos", "neg"], "text": ["Good", "Bad"], "is_valid": [False, True]}).to_csv(
        tmp_path / "texts.csv", index=False
    )
    docs = list(open_corpus("imdb", tmp_path).documents())
    assert [(d.fields, d.split, d.label) for d in docs] == [(("Good",), "train", "pos"), (("Bad",), "valid", "neg")]


def test_arxiv_csv_and_json_lines(tmp_path):
    pd.DataFrame({"title": ["On Sheaves"], "summary": ["We study sheaves."], "tags": ["math.AG, cs.LG"]}).to_csv(
        tmp_path / "a.csv", index=False
    )
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"title": "Deep Nets", "abstract": "We train.", "categories": "cs.LG stat.ML"}) + "\n"
    )
    docs = list(open_corpus("arxiv", tmp_path, label_field=True).documents())
    assert [(d.fields, d.label) for d in docs] == [
        (("math.AG cs.LG", "On Sheaves", "We study sheaves."), "math.AG"),
        (("cs.LG stat.ML", "Deep Nets", "We train."), "cs.LG"),
    ]
    plain = list(open_corpus("arxiv", tmp_path / "b.jsonl").documents())
    assert plain[0].fields == ("Deep Nets", "We train.")


def test_missing_columns_are_named(tmp_path):
    pd.DataFrame({"name": ["x"], "body": ["y"]}).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataError, match=r"a\.csv: expected text columns title and abstract/summary"):
        open_corpus("arxiv", tmp_path)
    with pytest.raises(DataError, match="no text column 'review'"):
        open_corpus("csv", tmp_path / "a.csv", text_cols=["review"])
    docs = list(open_corpus("csv", tmp_path / "a.csv", text_cols=["name", "body"]).documents())
    assert docs[0].fields == ("x", "y")


def test_wikitext_articles_and_splits(tmp_path):
    for split in ("train", "valid", "test"):
        _write(
            tmp_path / f"wiki.{split}.tokens",
            f" \n = {split} one = \n \n = = Part = = \n a <unk> b \n = {split} two = \n c\n",
        )
    docs = list(open_corpus("wikitext", tmp_path).documents())
    assert [d.split for d in docs] == ["train", "train", "valid", "valid", "test", "test"]
    assert docs[0].fields == (" \n = train one = \n \n = = Part = = \n a <unk> b \n",)
    assert docs[1].fields == (" = train two = \n c\n",)
    with pytest.raises(DataError, match=r"wiki\.test\.tokens not found"):
        (tmp_path / "wiki.test.tokens").unlink()
        open_corpus("wikitext", tmp_path)


def test_text_folder_labels_from_subfolders(tmp_path):
    _write(tmp_path / "train/happy/a.txt", "yay")
    _write(tmp_path / "valid/sad/b.txt", "nay")
    _write(tmp_path / "c.txt", "plain")
    docs = list(open_corpus("folder", tmp_path).documents())
    assert sorted((d.fields[0], d.split, d.label) for d in docs) == [
        ("nay", "valid", "sad"),
        ("plain", "", ""),
        ("yay", "train", "happy"),
    ]


def test_tokenized_corpus_is_cached_and_rebuilt_when_a_file_changes(tmp_path, monkeypatch):
    folder = write_imdb_sample(tmp_path / "imdb", n_train=5, n_unsup=5, n_test=3)
    corpus = open_corpus("imdb", folder)
    first = tokenize_corpus(corpus, tmp_path / "cache", n_workers=1)
    assert first.label_names == ["neg", "pos"]
    assert len(first.tokens) == 2 * 5 + 5 + 2 * 3
    assert first.tokens.document(0)[0] == "xxbos"

    def refuse(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(corpora, "tokenize_documents", refuse)
    again = tokenize_corpus(open_corpus("imdb", folder), tmp_path / "cache", n_workers=1)
    assert again.tokens.types == first.tokens.types
    assert (again.tokens.ids == first.tokens.ids).all()
    assert (again.splits == first.splits).all() and (again.labels == first.labels).all()

    _write(folder / "aclImdb/train/pos/0_9.txt", "A different review")
    with pytest.raises(AssertionError, match="tokenized again"):
        tokenize_corpus(open_corpus("imdb", folder), tmp_path / "cache", n_workers=1)


def test_samples_have_their_real_formats(tmp_path):
    imdb = write_imdb_sample(tmp_path / "imdb", n_train=3, n_unsup=2, n_test=1)
    assert sorted(p.name for p in (imdb / "aclImdb/train/pos").iterdir())[0].endswith(".txt")
    arxiv = pd.read_csv(write_arxiv_sample(tmp_path / "arxiv", n_per_category=2) / "arxiv.csv")
    assert {"title", "abstract", "categories"} <= set(arxiv.columns)
    wiki = write_wikitext_sample(tmp_path / "wiki", n_train=2, n_eval=1)
    assert "@-@" in (wiki / "wiki.train.tokens").read_text()
