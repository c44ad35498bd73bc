"""Using a finished run: load_run, the inputs each family takes and what it refuses, predict.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from datamodules.preprocessing import (
    ImagePreprocessing,
    InputError,
    RatingsPreprocessing,
    SeriesPreprocessing,
    TablePreprocessing,
    TextPreprocessing,
    read_preprocessing,
    write_preprocessing,
)
from datamodules.tabular import TabularDataModule
from datamodules.text.tokenize import SPECIALS
from fastlightning import load_run
from fastlightning.predict import main as predict_main
from lightning_models.checkpoints import CheckpointError

FEW_BATCHES = ["trainer.max_epochs=1", "trainer.limit_train_batches=5"]


def test_predict_py_writes_what_the_run_predicted_from_the_run_alone(run_task, tmp_path, cache_dir, capsys):
    run_task("tabular", *FEW_BATCHES, "predict=true", run_dir=tmp_path / "run")
    new_rows = TabularDataModule(cache_dir=str(cache_dir)).predict_path
    predict_main([str(tmp_path / "run"), str(new_rows), "--out", str(tmp_path / "again.csv")])
    assert "200 predictions written to" in capsys.readouterr().out
    again, first = pd.read_csv(tmp_path / "again.csv"), pd.read_csv(tmp_path / "run" / "predictions.csv")
    np.testing.assert_allclose(again["prediction"], first["prediction"], rtol=1e-6)
    with pytest.raises(SystemExit):
        predict_main([str(tmp_path / "run"), str(tmp_path / "missing.csv")])
    assert "INPUT not found" in capsys.readouterr().err


def test_rating_pairs_in_every_form_and_unknown_ids_named(run_task, tmp_path):
    run_task("movielens", *FEW_BATCHES, run_dir=tmp_path / "run")
    predictor = load_run(tmp_path / "run")
    known = predictor.preprocessing
    pairs = [(known.user_ids[0], known.item_ids[3]), (known.user_ids[2], known.item_ids[0])]
    as_tuples = predictor.predict(pairs)
    as_records = predictor.predict([{"userId": u, "movieId": m} for u, m in pairs])
    as_frame = predictor.predict(pd.DataFrame(pairs, columns=["userId", "movieId"]))
    assert as_tuples["title"].tolist() == [known.titles[3], known.titles[0]]
    for other in (as_records, as_frame):
        np.testing.assert_array_equal(other["prediction"], as_tuples["prediction"])
    assert as_tuples["prediction"].between(0, 5.5).all()
    with pytest.raises(InputError, match=r"1 movieId value\(s\) never seen in the training ratings \(row 1: 999999\)"):
        predictor.predict([pairs[0], (known.user_ids[0], 999999)])
    with pytest.raises(InputError, match=r"userId must hold whole numbers \(ids\).*row 0: 1.5"):
        predictor.predict([{"userId": 1.5, "movieId": known.item_ids[0]}])
    with pytest.raises(InputError, match="no column 'movieId'"):
        predictor.predict([{"userId": 1}])


def mean_pixel_classes(batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
    """A stand-in image model: log-probabilities of (dark, bright) from each image's mean normalized pixel."""
    bright = batch[0].mean((1, 2, 3)).sigmoid()
    return torch.stack([1 - bright, bright], 1).log()


def test_images_as_paths_bytes_pil_or_a_folder_give_one_answer(tmp_path):
    preprocessing = ImagePreprocessing(["dark", "bright"], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], 3, 16)
    for name, level in (("a.png", 20), ("b.png", 230)):
        Image.new("RGB", (40, 24), (level, level, level)).save(tmp_path / name)
    paths = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    by_path = preprocessing.predict(mean_pixel_classes, paths, batch_size=1)
    assert by_path["prediction"].tolist() == ["dark", "bright"] and by_path["item"].tolist() == paths
    by_bytes = preprocessing.predict(mean_pixel_classes, [Path(p).read_bytes() for p in paths], batch_size=2)
    by_pil = preprocessing.predict(mean_pixel_classes, [Image.open(p) for p in paths], batch_size=2)
    by_folder = preprocessing.predict(mean_pixel_classes, str(tmp_path), batch_size=2)
    for other in (by_bytes, by_pil, by_folder):
        np.testing.assert_allclose(other["prob_bright"], by_path["prob_bright"], rtol=1e-6)
    # a 40 x 24 image: the shorter side to 16, then the centre 16 x 16
    assert preprocessing.encode(paths[:1])[0].shape == (1, 3, 16, 16)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="broken.png cannot be read as an image"):
        preprocessing.predict(mean_pixel_classes, [str(tmp_path / "broken.png")], batch_size=1)
    with pytest.raises(InputError, match="no such file"):
        preprocessing.predict(mean_pixel_classes, [str(tmp_path / "gone.png")], batch_size=1)
    with pytest.raises(InputError, match="item 1 is a int, expected str or Path or bytes or Image"):
        preprocessing.rows([paths[0], 7])


def test_texts_become_the_training_tokens_padded_first():
    itos = [*SPECIALS, "great", "phone", "!"]
    spacy_text = TextPreprocessing(itos, ["neg", "pos"])
    tokens, lengths, labels, index = spacy_text.encode(["Great phone!", "phone"])
    ids = {t: i for i, t in enumerate(itos)}
    assert tokens[0].tolist() == [ids[t] for t in ("xxbos", "xxmaj", "great", "phone", "!")]
    assert tokens[1].tolist() == [ids["xxpad"]] * 3 + [ids["xxbos"], ids["phone"]]
    assert lengths.tolist() == [5, 2] and labels.tolist() == [-1, -1] and index.tolist() == [0, 1]
    workshop = TextPreprocessing(["xxpad", "xxunk", "great", "phone"], ["0", "1"], "workshop", max_len=3, width=3)
    assert workshop.encode(["A GREAT phone!!"])[0].tolist() == [[1, 2, 3]]  # a -> xxunk, punctuation gone
    assert workshop.encode(["phone"])[0].tolist() == [[0, 0, 3]]
    with pytest.raises(InputError, match="text 1 is empty"):
        workshop.rows(["good", "  "])
    with pytest.raises(InputError, match="item 0 is a int, expected str"):
        workshop.rows([3])


def test_series_as_rows_of_weeks_and_a_bad_week_named():
    preprocessing = SeriesPreprocessing()
    rows = preprocessing.rows([[1, 2, 3], [4, 5, 6]])
    assert preprocessing.encode(rows)[0].tolist() == [[1, 2, 3], [4, 5, 6]]
    table = preprocessing.table(rows, [torch.tensor([[0.0, 0.0, 7.0], [0.0, 0.0, 8.0]])])
    assert table.to_dict("list") == {"week": ["W3", "W3"], "forecast": [7.0, 8.0]}
    with pytest.raises(InputError, match="row 1, W2 is 'x', not a number"):
        preprocessing.rows([{"W0": 1, "W1": 2, "W2": 3}, {"W0": 1, "W1": 2, "W2": "x"}])
    with pytest.raises(InputError, match="no week columns"):
        preprocessing.rows([{"sales": 3}])


def test_a_closed_store_is_predicted_zero_and_log_targets_come_back_in_units():
    processor = {"cat_names": [], "cont_names": ["x"], "categories": {}, "medians": {"x": 0.0}}
    processor |= {"means": {"x": 0.0}, "stds": {"x": 1.0}, "na_names": []}
    preprocessing = TablePreprocessing(processor, log_target=True, closed_column="Open")
    rows = preprocessing.rows([{"x": 1.0, "Open": 1}, {"x": 2.0, "Open": 0}])
    table = preprocessing.predict(lambda batch, i: batch[1][:, 0], rows, batch_size=8)
    np.testing.assert_allclose(table["prediction"], [np.e, 0.0])


def test_preprocessing_round_trips_as_json_and_bad_files_are_named(tmp_path):
    original = RatingsPreprocessing([1, 5], [10, 20], ["A", "B"])
    path = write_preprocessing(original, tmp_path)
    assert json.loads(path.read_text())["kind"] == "ratings" and read_preprocessing(path) == original
    assert [p.name for p in tmp_path.iterdir()] == ["preprocessing.json"]  # no temporary file left
    path.write_text("{not json")
    with pytest.raises(InputError, match="preprocessing.json is not valid JSON"):
        read_preprocessing(path)
    path.write_text('{"kind": "pickle"}')
    with pytest.raises(InputError, match="unknown preprocessing kind 'pickle'"):
        read_preprocessing(path)
    path.write_text('{"kind": "ratings", "user_ids": [1]}')
    with pytest.raises(InputError, match="lacks what a ratings preprocessing needs"):
        read_preprocessing(path)
    with pytest.raises(InputError, match="no preprocessing.json at"):
        read_preprocessing(tmp_path / "elsewhere" / "preprocessing.json")


def test_load_run_names_what_is_missing(tmp_path):
    with pytest.raises(CheckpointError, match="is not a run directory: it has no config.yaml"):
        load_run(tmp_path)
    (tmp_path / "config.yaml").write_text(
        "task_name: style_transfer\nmodel:\n  _target_: lightning_models.CollabModule\n"
    )
    with pytest.raises(InputError, match="a style_transfer run leaves no model for new inputs"):
        load_run(tmp_path)
    write_preprocessing(RatingsPreprocessing([1], [1], ["A"]), tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_run(tmp_path)
