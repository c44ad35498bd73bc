"""MovieLens data (both distributions' formats, bad input) and the collaborative-filtering models."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from datamodules import DataError, MovieLensDataModule
from lightning_models import CollabModule
from tests.conftest import compose_config


def write_latest_small(folder, ratings: str, movies: str | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text(ratings)
    if movies is not None:
        (folder / "movies.csv").write_text(movies)
    return folder


RATINGS = "userId,movieId,rating,timestamp\n" + "".join(
    f"{u},{m},{(u + m) % 5 + 0.5},{1000 + 10 * i}\n"
    for i, (u, m) in enumerate((u, m) for u in (7, 3, 42) for m in (10, 20, 30, 40))
)


def prepared(tmp_path, folder, **kwargs) -> MovieLensDataModule:
    dm = MovieLensDataModule(data_dir=str(folder), cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_latest_small_ids_become_contiguous_indices_with_titles(tmp_path):
    folder = write_latest_small(
        tmp_path / "ml", RATINGS, "movieId,title,genres\n10,Alpha (1990),Drama\n40,Delta (2001),Comedy\n"
    )
    dm = prepared(tmp_path, folder)
    assert dm.describe() == {"n_users": 3, "n_items": 4}
    assert dm.arrays["user_ids"].tolist() == [3, 7, 42]
    assert dm.arrays["users"][:4].tolist() == [1, 1, 1, 1]  # user 7 is index 1
    assert dm.item_names == ["Alpha (1990)", "movie 20", "movie 30", "Delta (2001)"]
    assert dm.item_counts.tolist() == [3, 3, 3, 3]
    assert dm.arrays["is_valid"].sum() == round(0.2 * 12)


def test_random_split_is_seeded_and_time_split_takes_the_latest(tmp_path):
    folder = write_latest_small(tmp_path / "ml", RATINGS)
    a = prepared(tmp_path, folder, seed=1).arrays["is_valid"]
    b = prepared(tmp_path, folder, seed=1).arrays["is_valid"]
    c = prepared(tmp_path, folder, seed=2).arrays["is_valid"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    by_time = prepared(tmp_path, folder, split="time", valid_pct=0.25).arrays["is_valid"]
    assert np.flatnonzero(by_time).tolist() == [9, 10, 11]


def test_ml_100k_tab_separated_ratings_and_latin1_titles(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t5\t4\t881250949\n2\t5\t3\t891717742\n1\t9\t1\t878887116\n")
    (folder / "u.item").write_bytes(
        "5|Café Society (1995)|01-Jan-1995||http://x|0\n9|Toy (1995)|01-Jan-1995||x|0\n".encode("latin-1")
    )
    dm = prepared(tmp_path, folder, valid_pct=0.34)
    assert dm.describe() == {"n_users": 2, "n_items": 2}
    assert dm.item_names == ["Café Society (1995)", "Toy (1995)"]
    assert dm.arrays["ratings"].tolist() == [4.0, 3.0, 1.0]


@pytest.mark.parametrize(
    "name, content, message",
    [
        pytest.param("ratings.csv", None, "no MovieLens ratings in", id="no ratings file"),
        pytest.param("ratings.csv", "", "ratings.csv is empty", id="empty file"),
        pytest.param("ratings.csv", "userId,movieId,rating\n", "has a header but no rows", id="header only"),
        pytest.param("ratings.csv", "userId,movieId,timestamp\n1,2,3\n", "has no column 'rating'", id="missing column"),
        pytest.param("ratings.csv", "userId;movieId;rating\n1;2;3\n", "is the separator right", id="wrong separator"),
        pytest.param(
            "ratings.csv",
            "userId,movieId,rating\n1,2,4\n1,3,good\n",
            r"column 'rating' must hold finite numbers; 1 value\(s\) are not \(line 3: 'good'\)",
            id="non-numeric rating",
        ),
        pytest.param("ratings.csv", "userId,movieId,rating\n1,2,nan\n", "must hold finite numbers", id="NaN rating"),
        pytest.param("ratings.csv", "userId,movieId,rating\n1,2,inf\n", "must hold finite numbers", id="inf rating"),
        pytest.param(
            "ratings.csv",
            "userId,movieId,rating\nbob,2,4\n",
            "column 'userId' must hold finite numbers",
            id="text user id",
        ),
        pytest.param(
            "ratings.csv",
            "userId,movieId,rating\n1,2,4\n".encode("utf-16"),
            "is not valid utf-8 text",
            id="utf-16 file",
        ),
        pytest.param(
            "ratings.csv",
            "userId,movieId,rating\n1,2,4\n1,3,50\n2,3,-1\n",
            r"ratings.csv: 2 rating\(s\) outside MovieLens's scale 0.5..5.0 \(line 3: 50.0, line 4: -1.0\); fix them, "
            r"or set data.rating_range",
            id="ratings outside the scale",
        ),
        pytest.param(
            "ratings.csv",
            gzip.compress(b"userId,movieId,rating\n1,2,4\n"),
            r"ratings.csv looks gzip-compressed, not like text: decompress it",
            id="gzipped file without .gz",
        ),
        pytest.param("u.data", "1,5,4,881250949\n", "expected 4 tab-separated columns", id="ml-100k with commas"),
        pytest.param(
            "ratings.csv",
            "userId,movieId,rating\n1,2,4\n1.5,3,4\n",
            r"column 'userId' must hold whole numbers of at most 64 bits; 1 value\(s\) are not \(line 3: 1.5\)",
            id="fractional id",
        ),
        pytest.param(
            "ratings.csv",
            "userId,movieId,rating\n99999999999999999999,2,4\n",
            "column 'userId' must hold whole numbers of at most 64 bits",
            id="id beyond int64",
        ),
        pytest.param(
            "ratings.csv",
            "userId,movieId,rating,timestamp\n1,2,4,964982703\n1,3,4,yesterday\n",
            r"column 'timestamp' must hold finite numbers; 1 value\(s\) are not \(line 3: 'yesterday'\)",
            id="text timestamp",
        ),
    ],
)
def test_bad_input_names_the_file_and_leaves_no_cache(tmp_path, name, content, message):
    folder = tmp_path / "ml"
    folder.mkdir()
    if content is not None:
        data = content if isinstance(content, bytes) else content.encode()
        (folder / name).write_bytes(data)
    with pytest.raises(DataError, match=message) as error:
        prepared(tmp_path, folder)
    assert str(folder) in str(error.value)
    cache = tmp_path / "cache" / "movielens"
    assert not cache.exists() or not [p for p in cache.iterdir() if p.is_dir()]


def test_predict_file_in_input_order(tmp_path):
    folder = write_latest_small(tmp_path / "ml", RATINGS)
    wanted = tmp_path / "wanted.csv"
    wanted.write_text("userId,movieId\n42,40\n3,10\n7,30\n")
    dm = prepared(tmp_path, folder, predict_file=str(wanted))
    model = CollabModule(**dm.describe(), n_factors=4)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    predictions = trainer.predict(model, datamodule=dm)
    path = dm.write_predictions(predictions, tmp_path)
    frame = pd.read_csv(path)
    assert frame[["userId", "movieId"]].values.tolist() == [[42, 40], [3, 10], [7, 30]]
    expected = model(torch.tensor([2, 0, 1]), torch.tensor([3, 0, 2])).detach().numpy()
    assert frame["prediction"].to_numpy() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "pairs, message",
    [
        pytest.param(
            "userId,movieId\n42,40\n99,10\n",
            r"1 userId value\(s\) never seen in the training ratings \(row 1: 99\)",
            id="unknown user",
        ),
        pytest.param(
            "userId,movieId\n42,41\n",
            r"1 movieId value\(s\) never seen in the training ratings \(row 0: 41\)",
            id="unknown movie",
        ),
        pytest.param("userId,item\n42,40\n", "has no column 'movieId'", id="predict file without movieId"),
    ],
)
def test_predict_file_bad_input(tmp_path, pairs, message):
    folder = write_latest_small(tmp_path / "ml", RATINGS)
    wanted = tmp_path / "wanted.csv"
    wanted.write_text(pairs)
    dm = prepared(tmp_path, folder, predict_file=str(wanted))
    with pytest.raises(DataError, match=f"wanted.csv.*{message}"):
        dm.predict_dataloader()


def baseline_rmse(dm: MovieLensDataModule) -> float:
    """Predict every validation rating with the mean training rating."""
    ratings, valid = dm.arrays["ratings"], dm.arrays["is_valid"]
    return float(np.sqrt(np.mean((ratings[valid] - ratings[~valid].mean()) ** 2)))


def sample_module(cache_dir) -> MovieLensDataModule:
    dm = MovieLensDataModule(cache_dir=str(cache_dir))
    dm.prepare_data()
    dm.setup("fit")
    return dm


# task=movielens's large batches take 19 steps an epoch on the 19,200 training ratings of the sample
@pytest.mark.parametrize("task, ratio", [("movielens", 0.75), ("movielens_tutorial", 0.5), ("movielens_nn", 0.8)])
def test_models_beat_the_global_mean_on_the_sample(run_task, cache_dir, task, ratio):
    metrics = run_task(task, "trainer.max_epochs=3")
    baseline = baseline_rmse(sample_module(cache_dir))
    assert baseline > 0.8
    assert metrics["val/rmse"] < ratio * baseline


def test_modules_work_in_a_plain_lightning_project(tmp_path):
    dm = MovieLensDataModule(cache_dir=str(tmp_path), batch_size=256)
    pl.seed_everything(0)
    model = CollabModule(**dm.describe(), n_factors=8, lr=1e-2, weight_decay=0.01)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val/rmse"] < baseline_rmse(dm)


@pytest.mark.parametrize("task, ratio", [("movielens_lesson", 0.7), ("movielens_bias_lesson", 0.8)])
def test_lesson_recipes_beat_the_global_mean_on_the_sample(run_task, cache_dir, task, ratio):
    metrics = run_task(task)
    assert metrics["val/rmse"] < ratio * baseline_rmse(sample_module(cache_dir))


def test_lesson_recipes_train_at_the_lesson_lrs(tmp_path, cache_dir):
    """The from-scratch lessons hold SGD at 0.1 for all 3 epochs; the collab learner's SGDR restarts at 1e-2."""
    constant = instantiate_task("movielens_bias_lesson", tmp_path / "bias", cache_dir)
    assert constant["callbacks"] == [] and constant["epochs"] == 3
    assert constant["optimizer"] == ("SGD", 0.1, 0.9, 2e-4)
    sgdr = instantiate_task("movielens_lesson", tmp_path / "sgdr", cache_dir)
    assert [type(cb).__name__ for cb in sgdr["callbacks"]] == ["SGDR"] and sgdr["epochs"] == 3
    assert sgdr["optimizer"] == ("Adam", 1e-2, (0.9, 0.999), 2e-4)


def instantiate_task(task: str, run_dir, cache_dir) -> dict:
    """The lesson task's schedule callbacks, epochs and optimizer (kind, lr, momentum or betas, weight decay)."""
    cfg = compose_config(task, run_dir, cache_dir)
    dm = instantiate(cfg.data)
    model = instantiate(cfg.model, **dm.describe())
    optimizer = model.configure_optimizers()
    group = optimizer.param_groups[0]
    momentum = group["momentum"] if "momentum" in group else tuple(group["betas"])
    schedules = [instantiate(c) for name, c in cfg.callbacks.items() if name == "schedule"]
    epochs = schedules[0].n_epochs if schedules and cfg.trainer.max_epochs is None else cfg.trainer.max_epochs
    return {
        "callbacks": schedules,
        "epochs": epochs,
        "optimizer": (type(optimizer).__name__, group["lr"], momentum, group["weight_decay"]),
    }


def test_lesson_embeddings_start_uniform_within_a_hundredth():
    model = CollabModule(n_users=50, n_items=80, init="uniform")
    weights = torch.cat([p.detach().flatten() for p in model.net.parameters()])
    assert weights.abs().max() <= 0.01 and weights.min() < -0.009 and weights.max() > 0.009
    with pytest.raises(ValueError, match="unknown embedding init 'xavier'"):
        CollabModule(n_users=5, n_items=5, init="xavier")


def test_ratings_on_another_scale_are_read_with_their_range(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating\n1,2,4\n1,3,10\n2,3,7\n2,2,1\n3,2,9\n")
    data = MovieLensDataModule(data_dir=str(folder), rating_range=[1, 10], cache_dir=str(tmp_path / "cache"))
    data.setup("fit")
    assert sorted(data.arrays["ratings"].tolist()) == [1, 4, 7, 9, 10]
