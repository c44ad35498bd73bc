"""Labelled sentences (workshop activity 6.03): the UCI format, the workshop's tokens, bad files, learning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from datamodules import DataError
from datamodules.splits import random_split
from datamodules.text import SentenceDataModule, TextClassificationDataModule
from datamodules.text.readers import Document, LabelledSentences, read_labelled
from fastlightning import load_run
from lightning_models.sequence import SentenceLSTM


def sentences_module(tmp_path, text: str | bytes, **kwargs) -> SentenceDataModule:
    folder = tmp_path / "uci"
    folder.mkdir(exist_ok=True)
    (folder / "amazon_cells_labelled.txt").write_bytes(text if isinstance(text, bytes) else text.encode())
    dm = SentenceDataModule(data_dir=str(folder), cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.setup("fit")
    return dm


def test_the_workshops_tokens_left_padded_with_their_labels(tmp_path):
    text = "Great phone, really GREAT!\t1\nBad.\t0\n\nWorks; fine\t1\n"
    dm = sentences_module(tmp_path, text, valid_pct=0.3, max_len=4)
    assert dm.itos[:2] == ["xxpad", "xxunk"]
    tokens, labels = dm.datasets["train"].tensors
    decoded = {tuple(dm.itos[i] for i in row if i) for row in tokens.tolist()}
    rows = {("great", "phone", "really", "great"), ("bad",), ("works", "fine")}
    assert decoded <= rows and len(decoded) == 2
    assert all(row[0] == 0 for row in tokens.tolist() if sum(1 for i in row if i) < 4)  # pads on the left
    assert sorted(labels.tolist()) in ([0.0, 1.0], [1.0, 1.0])
    assert dm.describe() == {"vocab_sz": len(dm.itos), "pad_idx": 0}


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param(
            "Good.\t1\nMeh.\t2\n", r"line 2: expected '<sentence><TAB><0 or 1>', got 'Meh.\\t2'", id="label not 0/1"
        ),
        pytest.param("Good. 1\n", "line 1: expected '<sentence><TAB><0 or 1>'", id="no tab"),
        pytest.param("\n\n", "is empty: expected '<sentence><TAB><0 or 1>' lines", id="empty sentences file"),
        pytest.param("Tr\xe8s bien\t1\n".encode("latin-1"), "is not valid utf-8 text", id="sentences not utf-8"),
    ],
)
def test_bad_sentences_file_names_the_file_and_line(tmp_path, content, message):
    with pytest.raises(DataError, match=message) as error:
        sentences_module(tmp_path, content)
    assert "amazon_cells_labelled.txt" in str(error.value)


def test_a_folder_without_labelled_files_or_an_unknown_setting_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"no \*_labelled.txt file in"):
        SentenceDataModule(data_dir=str(tmp_path)).setup("fit")
    with pytest.raises(ValueError, match="unknown tokenizer 'nltk': choose one of workshop, spacy"):
        SentenceDataModule(tokenizer="nltk")
    with pytest.raises(ValueError, match="unknown pooling 'attention': choose one of last, concat"):
        SentenceLSTM(10, pooling="attention")


def test_both_poolings_give_one_logit_a_sentence():
    tokens = torch.tensor([[0, 0, 3, 4], [5, 6, 7, 8]])
    for pooling in ("last", "concat"):
        assert SentenceLSTM(10, emb_sz=8, n_hidden=6, n_layers=2, pooling=pooling)(tokens).shape == (2,)


def test_the_workshops_lstm_learns_the_sample_and_predicts_new_sentences(run_task, tmp_path, cache_dir):
    metrics = run_task("sentences", "trainer.max_epochs=6", "predict=true", run_dir=tmp_path / "run")
    assert metrics["val/acc"] > 0.8  # a tenth of the sample's labels are flipped: 0.9 is the ceiling
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert (predictions["prediction"] == predictions["label"]).mean() == pytest.approx(metrics["val/acc"])
    dm = SentenceDataModule(cache_dir=str(cache_dir))
    sentences, _ = read_labelled(dm.paths[0])
    _, valid = random_split(len(sentences), dm.valid_pct, dm.seed, what="sentences")
    again = load_run(tmp_path / "run").predict([sentences[i] for i in valid[:20]])  # raw text, the workshop's tokens
    np.testing.assert_allclose(again["prob_1"], predictions["prob_1"][:20], rtol=1e-5)


def test_the_sentences_corpus_reads_every_labelled_file_for_the_ulmfit_classifier(tmp_path):
    folder = tmp_path / "uci"
    folder.mkdir()
    (folder / "amazon_cells_labelled.txt").write_text("Great phone!\t1\n\nBad.\t0\n")
    (folder / "yelp_labelled.txt").write_text("Tasty food.\t1\n")
    (folder / "readme.txt").write_text("not read")
    assert list(LabelledSentences(folder).documents()) == [
        Document(("Great phone!",), label="1", name="amazon_cells_labelled.txt#0"),
        Document(("Bad.",), label="0", name="amazon_cells_labelled.txt#1"),
        Document(("Tasty food.",), label="1", name="yelp_labelled.txt#0"),
    ]
    assert len(list(LabelledSentences(folder / "yelp_labelled.txt").documents())) == 1
    for n in range(3, 8):
        (folder / "yelp_labelled.txt").write_text(f"Tasty food {n}.\t1\nCold food.\t0\n" * n)
    dm = TextClassificationDataModule(
        corpus="sentences", data_dir=str(folder), valid_pct=0.25, min_freq=1, n_workers=1, cache_dir=str(tmp_path)
    )
    dm.setup("fit")
    assert dm.label_names == ["0", "1"] and not dm.has_test_set
    assert {k: len(v) for k, v in dm.docs.items()} == {"train": 12, "valid": 4, "test": 0}
    with pytest.raises(DataError, match=r"no \*_labelled.txt file in"):
        LabelledSentences(tmp_path / "cache")


def test_the_ulmfit_classifier_learns_the_sentences_from_a_language_model_of_them(run_task, tmp_path):
    """ULMFiT's path on the sentences: a language model of the sentences, then the classifier from its encoder."""
    sizes = ["model.emb_sz=32", "model.n_hid=64", "model.n_layers=2", "data.n_workers=1"]
    lm_options = [
        "data.corpus=sentences",
        "data.batch_size=16",
        "data.bptt=10",
        "model.lr=2e-2",
        "trainer.max_epochs=3",
    ]
    run_task("imdb_lm", *sizes, *lm_options, "test=false", run_dir=tmp_path / "lm")
    metrics = run_task(
        "sentences_ulmfit",
        *sizes,
        f"model.encoder_path={tmp_path / 'lm' / 'encoder.pt'}",
        f"data.vocab_path={tmp_path / 'lm' / 'vocab.json'}",
    )
    assert metrics["val/acc"] > 0.8  # a tenth of the sample's labels are flipped: 0.9 is the ceiling
