"""Labelled sentences (workshop activity 6.03): the UCI format, the workshop's tokens, bad files, learning."""

from __future__ import annotations

import pytest
import torch

from datamodules import DataError
from datamodules.text import SentenceDataModule
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


def test_the_workshops_lstm_learns_the_sample(run_task):
    metrics = run_task("sentences", "trainer.max_epochs=6")
    assert metrics["val/acc"] > 0.8  # a tenth of the sample's labels are flipped: 0.9 is the ceiling
