"""Bad text inputs (the rows of docs/bad_inputs.md's Text section): clear errors, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from datamodules.files import DataError
from datamodules.text.classification import TextClassificationDataModule
from datamodules.text.lm import LanguageModelDataModule
from datamodules.text.tokenize import SPECIALS
from datamodules.text.vocab import Vocab
from lightning_models.checkpoints import CheckpointError
from lightning_models.text import LanguageModel, TextClassifier

WORDS = ["good", "bad", "film", "plot", "actor", "scene"]


def _rows(n: int = 40, split: str = "train") -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {"text": " ".join(rng.choice(WORDS, size=6)), "label": ("pos", "neg")[i % 2], "split": split} for i in range(n)
    ]


def _csv(folder: Path, rows: list[dict]) -> Path:
    path = folder / "reviews.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _data(path: Path, cache_dir: Path, **kwargs) -> TextClassificationDataModule:
    columns = {"text_cols": ["text"], "label_col": "label", "split_col": "split"}
    return TextClassificationDataModule(
        "csv", str(path), cache_dir=str(cache_dir), n_workers=1, **{**columns, **kwargs}
    )


def _empty_file(folder: Path) -> Path:
    (folder / "reviews.csv").write_text("")
    return folder / "reviews.csv"


def _utf16_review(folder: Path) -> Path:
    for split, label in (("train", "pos"), ("train", "neg"), ("test", "pos")):
        (folder / "aclImdb" / split / label).mkdir(parents=True, exist_ok=True)
        (folder / "aclImdb" / split / label / "0_7.txt").write_text("A fine film.", encoding="utf-8")
    (folder / "aclImdb" / "train" / "neg" / "1_2.txt").write_text("Dull, dull film.", encoding="utf-16")
    return folder


def _no_text_column(folder: Path) -> Path:
    return _csv(folder, [{**{"review": row["text"]}, **row} for row in _rows()])


def _one_label(folder: Path) -> Path:
    return _csv(folder, [{**row, "label": "pos"} for row in _rows()])


def _test_label_never_trained(folder: Path) -> Path:
    test = [{**row, "label": "meh" if i == 3 else row["label"]} for i, row in enumerate(_rows(10, "test"))]
    return _csv(folder, _rows() + test)


def _text_column_wrong(folder: Path) -> Path:
    return _csv(folder, [{"body": row["text"], "label": row["label"], "split": row["split"]} for row in _rows()])


@pytest.mark.parametrize(
    ("write", "corpus", "message"),
    [
        pytest.param(_empty_file, "csv", r"reviews\.csv is empty: expected a header row", id="empty file"),
        pytest.param(_utf16_review, "imdb", r"train/neg/1_2\.txt is not valid utf-8 text", id="utf-16 review"),
        pytest.param(
            _text_column_wrong, "csv", r"reviews\.csv has no text column 'text'; found: body", id="no text column"
        ),
        pytest.param(_one_label, "csv", r"a classifier needs at least 2 labels, found \['pos'\]", id="one label only"),
        pytest.param(
            _test_label_never_trained,
            "csv",
            r"1 test document\(s\) have label\(s\) that no training document has: 'meh' \(e\.g\. reviews\.csv:44\)",
            id="test label never trained",
        ),
    ],
)
def test_bad_text_data_names_the_file_and_leaves_no_cache(tmp_path, write, corpus, message):
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    data_dir.mkdir()
    path = write(data_dir)
    data = (
        _data(path, cache_dir)
        if corpus == "csv"
        else TextClassificationDataModule(corpus, str(path), cache_dir=str(cache_dir), n_workers=1)
    )
    with pytest.raises(DataError, match=message):
        data.prepare_data()
        data.setup("fit")
    if corpus == "imdb":
        assert not [p for p in (cache_dir / "text").glob("*") if p.is_dir()]


def _huge() -> str:
    """A 10 MB document of 200,000 words (a hundred different ones: spaCy caches a word's split)."""
    return " ".join("".join(f"{d}q" for d in f"{i % 100:06d}") + "abcdefghij" * 4 for i in range(200_000))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", ["xxbos"], id="zero-length document"),
        pytest.param(_huge(), ["xxbos", *_huge().split()], id="10 MB document"),
    ],
)
def test_odd_documents_are_kept(tmp_path, text, expected):
    """A zero-length document is its begin marker alone; a 10 MB one is tokenized whole (spaCy's
    1,000,000-character limit does not apply to the tokenizer alone)."""
    rows = _rows()
    rows[1]["text"] = text
    data = LanguageModelDataModule("csv", str(_csv(tmp_path, rows)), cache_dir=str(tmp_path / "cache"), n_workers=1)
    data.prepare_data()
    tokens = data.tokenized.tokens
    document = tokens.ids[tokens.offsets[1] : tokens.offsets[2]]
    assert [tokens.types[i] for i in document] == expected


@pytest.mark.parametrize("case", [pytest.param("unknown words", id="unknown tokens")])
def test_words_outside_the_vocabulary_become_xxunk(tmp_path, case):
    vocab = Vocab([*SPECIALS, "good", "film"])
    vocab.save(tmp_path / "vocab.json")
    rows = [*_rows(), {"text": "good zebra film quokka", "label": "pos", "split": "test"}]
    data = _data(_csv(tmp_path, rows), tmp_path / "cache", vocab_path=str(tmp_path / "vocab.json"))
    data.prepare_data()
    data.setup("fit")
    tokens, lengths, _, _ = data.dataset("test")[torch.tensor([0])]
    assert vocab.textify(tokens[0, -int(lengths[0]) :].tolist()) == "xxbos good xxunk film xxunk"


def _lm(tmp_path: Path, **sizes) -> Path:
    """An LM run's artifacts: encoder.pt and vocab.json."""
    itos = ["xxunk", "xxpad", "xxbos", "good", "bad"]
    model = LanguageModel(vocab_sz=len(itos), **{"emb_sz": 6, "n_hid": 10, "n_layers": 2, **sizes})
    run = tmp_path / "lm"
    model.save_encoder(run / "encoder.pt")
    (run / "vocab.json").write_text('{"itos": ["' + '", "'.join(itos) + '"]}')
    return run


def _missing_vocab(run: Path) -> None:
    (run / "vocab.json").unlink()


def _corrupt_vocab(run: Path) -> None:
    (run / "vocab.json").write_text('{"itos": ["xxunk", ')


def _truncated_encoder(run: Path) -> None:
    data = (run / "encoder.pt").read_bytes()
    (run / "encoder.pt").write_bytes(data[: len(data) // 2])


def _not_an_encoder(run: Path) -> None:
    torch.save({"weight": torch.zeros(2)}, run / "encoder.pt")


@pytest.mark.parametrize(
    ("spoil", "sizes", "message"),
    [
        pytest.param(
            _missing_vocab,
            {},
            r"no vocab\.json beside .*lm/encoder\.pt: give model\.encoder_vocab_path",
            id="vocab.json missing",
        ),
        pytest.param(_corrupt_vocab, {}, r"lm/vocab\.json is not a vocab\.json", id="vocab.json corrupt"),
        pytest.param(
            None,
            {"n_hid": 12},
            r"lm/encoder\.pt was not saved from this model .*layers\.0\.weight_hh: file \(48, 12\) vs model "
            r"\(40, 10\).*build the model with the language model's emb_sz, n_hid and n_layers",
            id="encoder of another model",
        ),
        pytest.param(
            None,
            {"n_layers": 3},
            r"lm/encoder\.pt was not saved from this model .*unexpected layers\.2",
            id="encoder with more layers",
        ),
        pytest.param(
            _truncated_encoder, {}, r"lm/encoder\.pt is not a readable encoder weights", id="truncated encoder"
        ),
        pytest.param(_not_an_encoder, {}, r"lm/encoder\.pt is not an AWD-LSTM encoder\.pt", id="not an encoder"),
    ],
)
def test_bad_encoder_artifacts_are_clear_errors(tmp_path, spoil, sizes, message):
    run = _lm(tmp_path, **sizes)
    if spoil is not None:
        spoil(run)
    (tmp_path / "clas.json").write_text('{"itos": ["xxunk", "xxpad", "xxbos", "bad", "film"]}')
    model = TextClassifier(
        vocab_sz=5, n_classes=2, emb_sz=6, n_hid=10, n_layers=2, vocab_path=str(tmp_path / "clas.json")
    )
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    with pytest.raises(CheckpointError, match=message):
        model.load_encoder(run / "encoder.pt")
    assert all(torch.equal(v, before[k]) for k, v in model.encoder.state_dict().items())
