"""The character-level language model (workshop activity 6.02): its streams, bad text files, learning, text."""

from __future__ import annotations

import sys

import pytest
import torch

import generate
from datamodules import DataError
from datamodules.text import CharacterDataModule
from lightning_models.sequence import CharLanguageModel
from lightning_models.text import generate as generate_text


def text_module(tmp_path, text: str | bytes, **kwargs) -> CharacterDataModule:
    path = tmp_path / "book.txt"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    dm = CharacterDataModule(data_dir=str(tmp_path), text_file="book.txt", cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.setup("fit")
    return dm


def test_characters_are_the_vocabulary_and_the_last_share_of_the_text_validates(tmp_path):
    dm = text_module(tmp_path, "abcabcab\nabcabcab\n", valid_pct=0.25, batch_size=2, bptt=3)
    assert dm.itos == ["\n", "a", "b", "c"] and dm.describe() == {"vocab_sz": 4}
    decode = "".join
    train, valid = ("".join(dm.itos[i] for i in dm.streams[s]) for s in ("train", "valid"))
    assert (train, valid) == ("abcabcab\nabcab", "cab\n")
    x, y = next(iter(dm.train_dataloader()))
    rows = [decode(dm.itos[i] for i in row) for row in x.tolist()]
    assert rows == ["abc", "b\na"]  # two contiguous rows of the 14 training characters, 7 each
    assert torch.equal(y[:, :-1], x[:, 1:])


def test_a_byte_order_mark_is_not_a_character_and_lines_end_in_newlines(tmp_path):
    assert text_module(tmp_path, "\ufeffab\r\nba", valid_pct=0.25, batch_size=1, bptt=2).itos == ["\n", "a", "b"]


def test_a_latin1_text_reads_with_its_encoding(tmp_path):
    dm = text_module(tmp_path, "Où est ma chatte? Où?".encode("latin-1"), encoding="latin-1", batch_size=1, bptt=2)
    assert "ù" in dm.itos


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param("", "is empty: a character model needs text", id="empty text file"),
        pytest.param("caf\xe9 au lait".encode("latin-1"), "is not valid utf-8 text", id="text file not utf-8"),
        pytest.param("abc", "has 3 characters: too few to hold out valid_pct=0.1", id="text too short"),
    ],
)
def test_bad_text_file_names_the_file(tmp_path, content, message):
    with pytest.raises(DataError, match=message) as error:
        text_module(tmp_path, content)
    assert str(tmp_path / "book.txt") in str(error.value)


def test_a_folder_without_a_text_file_or_a_missing_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="set data.text_file to the text file inside"):
        CharacterDataModule(data_dir=str(tmp_path)).setup("fit")
    with pytest.raises(DataError, match="data.text_file not found"):
        CharacterDataModule(data_dir=str(tmp_path), text_file="alice.txt").setup("fit")


def test_one_hot_and_embedded_characters_give_logits_for_every_step():
    tokens = torch.randint(0, 30, (4, 9))
    for one_hot in (True, False):
        model = CharLanguageModel(30, n_hidden=16, n_layers=2, one_hot=one_hot)
        logits, (h, c) = model(tokens)
        assert logits.shape == (4, 9, 30) and h.shape == c.shape == (2, 4, 16)
        assert len(model.layer_groups()) == (2 if one_hot else 3)


def test_the_lstm_learns_the_sample_far_below_the_letters_frequencies_and_generates(
    run_task, tmp_path, cache_dir, capsys, monkeypatch
):
    run_dir = tmp_path / "run"
    small = ["trainer.max_epochs=6", "data.batch_size=20", "model.n_hidden=64", "model.lr=2e-2", "model.dropout=0"]
    metrics = run_task("char_lm", *small, run_dir=run_dir)
    dm = CharacterDataModule(cache_dir=str(cache_dir))
    dm.setup("fit")
    assert metrics["val/loss"] < 0.5 * dm.unigram_loss()
    prompt = "Alice was "
    argv = ["generate.py", str(run_dir), "--prompt", prompt, "--top-k", "3", "--stop", ".", "--n-words", "300"]
    monkeypatch.setattr(sys, "argv", argv)
    capsys.readouterr()
    generate.main()
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith(prompt) and len(text) > len(prompt)
    assert text.endswith(".") or len(text) == len(prompt) + 300
    generate.main()
    assert capsys.readouterr().out.rstrip("\n") == text  # seeded


def test_a_prompt_with_a_character_the_text_never_had_is_refused(tmp_path):
    dm = text_module(tmp_path, "abcabcabcabc", valid_pct=0.25, batch_size=1, bptt=3)
    model = CharLanguageModel(**dm.describe(), n_hidden=8, n_layers=1)
    with pytest.raises(ValueError, match=r"the prompt has tokens the model never saw: \['z'\]"):
        generate_text(model, dm.itos, list("abz"))
