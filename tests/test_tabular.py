"""The generic tabular pipeline: categorify, fill + flag, normalize, embedding sizes, the net, any CSV."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from datamodules.files import DataError
from datamodules.tabular import TabularDataModule
from datamodules.tabular_encoding import (
    Table,
    TabularProcessor,
    auto_y_range,
    cached_frame,
    class_codes,
    embedding_size,
    embedding_sizes,
    encode_table,
)
from fastlightning import load_run
from lightning_models.tabular import EntityEmbeddings, TabularModule, TabularNet


def hand_frame() -> pd.DataFrame:
    """Five training rows, then two validation rows."""
    return pd.DataFrame(
        {
            "color": ["red", "blue", "red", None, "green", "blue", "purple"],
            "size": [1.0, np.nan, 3.0, 5.0, 7.0, np.nan, 4.0],
            "weight": [2.0, 2.0, 2.0, 2.0, 2.0, np.nan, 6.0],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )


def test_processor_learns_from_training_rows_only_and_encodes_exactly(caplog):
    frame = hand_frame()
    processor = TabularProcessor.fit(frame.iloc[:5], ["color"], ["size", "weight"])
    assert processor.categories == {"color": ["blue", "green", "red"]}
    assert processor.na_names == ["size"]
    assert processor.all_cat_names == ["color", "size_na"]
    assert processor.cardinalities == [4, 3]
    assert processor.medians == {"size": 4.0, "weight": 2.0}
    assert processor.means["size"] == 4.0 and processor.stds["size"] == 2.0  # filled: 1 4 3 5 7
    assert processor.stds["weight"] == 1.0  # a constant column is left unscaled

    with caplog.at_level(logging.WARNING):
        x_cat, x_cont = processor.transform(frame)
    # red=3, blue=1, missing=0, green=2, unseen purple=0; size_na: 1 = present, 2 = filled
    assert x_cat.tolist() == [[3, 1], [1, 2], [3, 1], [0, 1], [2, 1], [1, 2], [0, 1]]
    assert x_cont[:, 0].tolist() == [-1.5, 0.0, -0.5, 0.5, 1.5, 0.0, 0.0]
    assert x_cont[:, 1].tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0]
    assert x_cont.dtype == np.float32
    assert "'weight', which had none in the training rows; filled with the training median 2" in caplog.text


def test_processor_survives_a_json_round_trip():
    frame = hand_frame()
    processor = TabularProcessor.fit(frame.iloc[:5], ["color"], ["size"])
    again = TabularProcessor.from_dict(json.loads(json.dumps(processor.to_dict())))
    for a, b in zip(processor.transform(frame), again.transform(frame), strict=True):
        np.testing.assert_array_equal(a, b)


def test_integer_categories_match_across_int_and_float_columns():
    processor = TabularProcessor.fit(pd.DataFrame({"store": [3, 1, 2]}), ["store"], [])
    with_nan = pd.DataFrame({"store": [1.0, np.nan, 3.0, 9.0]})
    assert processor.transform(with_nan)[0][:, 0].tolist() == [1, 0, 3, 0]


def test_bad_values_get_clear_errors():
    frame = hand_frame().assign(size=["1", "x", "3", "5", "7", "6", "4"])
    with pytest.raises(DataError, match=r"continuous column 'size' must hold finite numbers.*'x'"):
        TabularProcessor.fit(frame, ["color"], ["size"])
    with pytest.raises(DataError, match="no values in the training rows"):
        TabularProcessor.fit(hand_frame().assign(size=np.nan), [], ["size"])
    with pytest.raises(DataError, match="has no column 'weight'"):
        TabularProcessor.fit(hand_frame(), [], ["weight"]).transform(hand_frame().drop(columns="weight"))
    table = Table(hand_frame().assign(y=[1, 2, 0, 4, 5, 6, 7]), np.zeros(7, bool), ["color"], [], "y")
    with pytest.raises(DataError, match="log_target needs a positive target"):
        encode_table(table, log_target=True)
    table = Table(hand_frame().assign(y=[1, 2, None, 4, 5, 6, 7]), np.zeros(7, bool), ["color"], [], "y")
    with pytest.raises(DataError, match="target column 'y' has 1 missing"):
        encode_table(table, log_target=False)


def test_encode_table_takes_the_log_target_and_its_training_range():
    is_valid = np.array([False] * 5 + [True] * 2)
    arrays, meta = encode_table(Table(hand_frame(), is_valid, ["color"], ["size"], "y"), log_target=True)
    np.testing.assert_allclose(arrays["y"], np.log(np.arange(1, 8)), rtol=1e-6)
    assert meta["y_min"] == 0.0 and meta["y_max"] == pytest.approx(np.log(5))
    assert arrays["x_cat"].dtype == np.int16
    assert auto_y_range(0.0, 10.0) == [0.0, 12.0]
    assert auto_y_range(-5.0, 10.0) == [-6.0, 12.0]


def test_embedding_size_rules_and_overrides():
    assert [embedding_size(c) for c in (2, 8, 1116)] == [1, 4, 50]
    assert [embedding_size(c, "fastai") for c in (3, 8, 1116)] == [3, 5, 81]
    sizes = embedding_sizes(["Store", "Day"], [1116, 32], "lesson", {"Store": 10})
    assert sizes == [[1116, 10], [32, 16]]
    with pytest.raises(ValueError, match="'Shop', which is not a categorical column"):
        embedding_sizes(["Store"], [1116], overrides={"Shop": 3})
    with pytest.raises(ValueError, match="unknown embedding size rule"):
        embedding_size(3, "big")


def test_cached_frame_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "text": ["a", None, "b"],
            "flag": [True, False, True],
            "day": pd.to_datetime(["2015-01-01", "2015-01-02", "2015-01-03"]),
            "count": [1, 2, 3],
            "value": [0.5, np.nan, 1.5],
        }
    )
    calls = []

    def build() -> pd.DataFrame:
        calls.append(1)
        return frame

    first = cached_frame(tmp_path, "frame", {"k": 1}, build)
    again = cached_frame(tmp_path, "frame", {"k": 1}, build)
    assert len(calls) == 1
    for got in (first, again):
        assert got["text"].tolist()[0] == "a" and pd.isna(got["text"].tolist()[1])
        assert got["flag"].tolist() == [True, False, True]
        assert (got["day"] == frame["day"]).all()
        assert got["count"].tolist() == [1, 2, 3]
        np.testing.assert_array_equal(got["value"], frame["value"])


def test_net_respects_y_range_and_the_lesson_init():
    torch.manual_seed(0)
    net = TabularNet([[10, 5], [4, 2]], n_cont=3, y_range=[0.0, 2.0], layers=[16, 8], ps=[0.1, 0.1])
    for i, dim in enumerate((5, 2)):
        assert 0 < net.embeds.table(i).abs().max() <= 2 / (dim + 1)
    assert (net.embeds.weight[10:, 2:] == 0).all()  # right of the 2-wide block: unused
    out = net(torch.randint(0, 4, (32, 2)), torch.randn(32, 3) * 100)
    assert out.shape == (32,) and out.min() >= 0 and out.max() <= 2
    only_cont = TabularNet([], n_cont=3, layers=[4], ps=[0.0])
    assert only_cont(torch.zeros(5, 0, dtype=torch.long), torch.randn(5, 3)).shape == (5,)
    only_cat = TabularNet([[10, 5]], n_cont=0, layers=[4], ps=[0.0])
    assert only_cat(torch.randint(0, 10, (5, 1)), torch.zeros(5, 0)).shape == (5,)
    with pytest.raises(ValueError, match="one dropout per hidden layer"):
        TabularNet([[10, 5]], n_cont=0, layers=[4, 4], ps=[0.0])


def test_several_targets_get_one_output_and_one_range_each():
    torch.manual_seed(0)
    net = TabularNet([[10, 5]], n_cont=3, y_range=[[0.0, 2.0], [-10.0, -5.0]], layers=[8], ps=[0.0], n_out=2)
    out = net(torch.randint(0, 10, (64, 1)), torch.randn(64, 3) * 100)
    assert out.shape == (64, 2)
    assert out[:, 0].min() >= 0 and out[:, 0].max() <= 2 and out[:, 1].min() >= -10 and out[:, 1].max() <= -5
    assert "y_low" not in net.state_dict()  # the ranges are hyperparameters, not weights
    one_range = TabularNet([[10, 5]], n_cont=0, y_range=[1.0, 3.0], layers=[8], ps=[0.0], n_out=2)
    both = one_range(torch.randint(0, 10, (64, 1)), torch.zeros(64, 0))
    assert both.shape == (64, 2) and both.min() >= 1 and both.max() <= 3
    with pytest.raises(ValueError, match="3 \\[low, high\\] pairs for 2 outputs"):
        TabularNet([[10, 5]], n_cont=0, y_range=[[0, 1]] * 3, layers=[8], ps=[0.0], n_out=2)

    frame = hand_frame().assign(z=lambda f: -2 * f["y"])
    is_valid = np.array([False] * 5 + [True] * 2)
    arrays, meta = encode_table(Table(frame, is_valid, ["color"], ["size"], ["y", "z"]), log_target=False)
    assert arrays["y"].shape == (7, 2) and arrays["y"][:, 1].tolist() == (-2 * np.arange(1, 8)).tolist()
    assert meta["targets"] == ["y", "z"] and meta["y_min"] == [1.0, -10.0] and meta["y_max"] == [5.0, -2.0]


def test_one_table_lookup_equals_a_lookup_per_column_and_trains_only_the_used_entries():
    torch.manual_seed(0)
    embeddings = EntityEmbeddings([[10, 5], [4, 2], [7, 3]])
    codes = torch.stack([torch.randint(0, c, (64,)) for c in (10, 4, 7)], 1).to(torch.int16)
    separate = torch.cat([F.embedding(codes[:, i].long(), embeddings.table(i)) for i in range(3)], 1)
    out = embeddings(codes)
    assert out.shape == (64, 10)
    torch.testing.assert_close(out, separate)
    out.square().sum().backward()
    grad = embeddings.weight.grad
    assert (grad[10:14, 2:] == 0).all() and (grad[14:, 3:] == 0).all()
    assert grad[:10].abs().sum() > 0


def test_layer_groups_are_inputs_hidden_output_and_cover_every_parameter():
    module = TabularModule([[10, 5], [4, 2]], n_cont=3, y_range=[0.0, 2.0], layers=[16, 8], ps=[0.0, 0.0])
    groups = module.layer_groups()
    assert len(groups) == 3
    assert module.net.embeds.weight in set(groups[0].parameters())
    assert module.net.bn_cont.weight in set(groups[0].parameters())
    assert module.net.out.weight in set(groups[2].parameters())
    grouped = [id(p) for g in groups for p in g.parameters()]
    assert sorted(grouped) == sorted(id(p) for p in module.parameters())
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["betas"] == (0.9, 0.999)
    assert optimizer.defaults["fused"]
    module.freeze_to(-1)
    assert not module.net.embeds.weight.requires_grad and module.net.out.weight.requires_grad


def generic_csv(path, n: int, seed: int) -> pd.DataFrame:
    """y = 10 + shop effect + 2 * x - z + noise, with a few x missing: an easy target a net must find."""
    rng = np.random.default_rng(seed)
    shop = rng.integers(0, 8, n)
    x = rng.normal(0, 1, n)
    z = rng.uniform(0, 3, n)
    y = 10 + np.linspace(-3, 3, 8)[shop] + 2 * x - z + rng.normal(0, 0.2, n)
    frame = pd.DataFrame({"shop": [f"s{i}" for i in shop], "x": x, "z": z, "y": y, "note": "ignored"})
    frame.loc[::50, "x"] = np.nan
    frame.to_csv(path, index=False)
    return frame


def train_on_generic_csv(run_task, folder, y_name: str, run_dir) -> dict[str, float]:
    """``task=tabular`` on ``folder``'s train.csv (shop; x, z -> ``y_name``), predicting new.csv."""
    return run_task(
        "tabular",
        f"data.data_dir={folder}",
        "data.csv=train.csv",
        "data.cat_names=[shop]",
        "data.cont_names=[x,z]",
        f"data.y_name={y_name}",
        "data.predict_csv=new.csv",
        "model.layers=[64,32]",
        "model.ps=[0,0]",
        "model.lr=2e-3",
        "data.batch_size=32",
        "trainer.max_epochs=6",
        "predict=true",
        run_dir=run_dir,
    )


def test_any_csv_trains_through_task_tabular_and_predicts(run_task, tmp_path):
    frame = generic_csv(tmp_path / "train.csv", 3000, seed=0)
    generic_csv(tmp_path / "new.csv", 100, seed=1).drop(columns="y").to_csv(tmp_path / "new.csv", index=False)
    run_dir = tmp_path / "run"
    metrics = train_on_generic_csv(run_task, tmp_path, "y", run_dir)
    assert metrics["val/rmse"] < 0.35 * frame["y"].std()
    predictions = pd.read_csv(run_dir / "predictions.csv")
    truth = generic_csv(tmp_path / "check.csv", 100, seed=1)
    assert list(predictions.columns) == ["shop", "x", "z", "note", "prediction"]
    assert np.sqrt(((predictions["prediction"] - truth["y"]) ** 2).mean()) < 0.35 * truth["y"].std()


def test_several_targets_are_learned_together_and_predicted_in_a_column_each(run_task, tmp_path):
    """Two targets of different scales from the same inputs: each one's RMSE far below its spread."""
    frame = generic_csv(tmp_path / "train.csv", 3000, seed=0)
    frame["days"] = 200 - 40 * frame["z"] + 10 * (frame["shop"] == "s3")
    frame.to_csv(tmp_path / "train.csv", index=False)
    new = generic_csv(tmp_path / "new.csv", 100, seed=1)
    new.drop(columns="y").to_csv(tmp_path / "new.csv", index=False)
    run_dir = tmp_path / "run"
    metrics = train_on_generic_csv(run_task, tmp_path, "[y,days]", run_dir)
    assert metrics["val/rmse_y"] < 0.35 * frame["y"].std()
    assert metrics["val/rmse_days"] < 0.35 * frame["days"].std()
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert list(predictions.columns) == ["shop", "x", "z", "note", "prediction_y", "prediction_days"]
    assert np.sqrt(((predictions["prediction_y"] - new["y"]) ** 2).mean()) < 0.35 * new["y"].std()
    again = load_run(run_dir).predict(predictions[["shop", "x", "z", "note"]])
    np.testing.assert_allclose(
        again[["prediction_y", "prediction_days"]], predictions[["prediction_y", "prediction_days"]], rtol=1e-5
    )


def test_several_targets_are_checked_by_name(tmp_path, cache_dir):
    generic_csv(tmp_path / "train.csv", 100, seed=0)
    csv = str(tmp_path / "train.csv")
    for y_name, message in [
        (["y", "y"], "data.y_name names 'y' more than once"),
        ([], r"data.y_name=\[\] names no target"),
        (["y", "z"], "data.y_name='z' is also in data.cont_names"),
    ]:
        with pytest.raises(DataError, match=message):
            TabularDataModule(csv=csv, cont_names=["x", "z"], y_name=y_name, cache_dir=str(cache_dir))
    with pytest.raises(ValueError, match="classify takes one label column"):
        TabularDataModule(csv=csv, cont_names=["x"], y_name=["y", "z"], classify=True)
    module = TabularDataModule(
        csv=csv, cont_names=["x"], y_name=["y", "z"], y_range=[[0, 1]] * 3, cache_dir=str(cache_dir)
    )
    with pytest.raises(ValueError, match=r"gives 3 ranges for the target\(s\) \['y', 'z'\]"):
        module.describe()
    module.y_range = "auto"
    assert module.describe()["targets"] == ["y", "z"] and len(module.describe()["y_range"]) == 2


def test_generic_csv_errors_name_the_problem(tmp_path, cache_dir):
    generic_csv(tmp_path / "train.csv", 100, seed=0)
    module = TabularDataModule(csv=str(tmp_path / "train.csv"), cont_names=["x"], cache_dir=str(cache_dir))
    with pytest.raises(DataError, match="set data.y_name"):
        module.prepare_data()
    module = TabularDataModule(
        csv=str(tmp_path / "train.csv"), cat_names=["shop"], y_name="price", cache_dir=str(cache_dir)
    )
    with pytest.raises(DataError, match=r"train.csv has no column 'price'"):
        module.prepare_data()
    module = TabularDataModule(data_dir=str(tmp_path), cont_names=["x"], y_name="y", cache_dir=str(cache_dir))
    with pytest.raises(DataError, match="set data.csv"):
        module.prepare_data()
    module = TabularDataModule(data_dir=str(tmp_path), csv="nope.csv", cont_names=["x"], y_name="y")
    with pytest.raises(DataError, match=r"data.csv not found: .*nope.csv does not exist"):
        module.prepare_data()
    module = TabularDataModule(csv=str(tmp_path / "train.csv"), cont_names=["x"], y_name="y", cache_dir=str(cache_dir))
    module.prepare_data()
    with pytest.raises(DataError, match="set data.predict_csv"):
        module.setup("predict")


def test_a_folder_or_a_broken_link_where_the_csv_should_be_is_named(tmp_path, cache_dir):
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "link.csv").symlink_to(tmp_path / "moved.csv")
    for name, message in [
        ("folder.csv", r"data.csv: .*folder.csv is a folder; give the file"),
        ("link.csv", r"data.csv not found: .*link.csv is a symbolic link to .*moved.csv, which does not exist"),
    ]:
        module = TabularDataModule(
            data_dir=str(tmp_path), csv=name, cont_names=["x"], y_name="y", cache_dir=str(cache_dir)
        )
        with pytest.raises(DataError, match=message):
            module.prepare_data()


def test_the_built_in_sample_trains_and_predicts(run_task, tmp_path, cache_dir):
    metrics = run_task(
        "tabular", "data.batch_size=32", "trainer.max_epochs=3", "predict=true", run_dir=tmp_path / "run"
    )
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert len(predictions) == 200 and predictions["prediction"].between(5, 2500).all()
    assert metrics["val/rmse"] < 60  # the prices' standard deviation is about 190
    new_rows = pd.read_csv(TabularDataModule(cache_dir=str(cache_dir)).predict_path)
    again = load_run(tmp_path / "run").predict(new_rows)  # the run alone: no training files, no cache
    np.testing.assert_allclose(again["prediction"], predictions["prediction"], rtol=1e-6)


def test_valid_col_picks_the_validation_rows(tmp_path, cache_dir):
    frame = generic_csv(tmp_path / "train.csv", 200, seed=0)
    frame["is_valid"] = np.arange(200) >= 150
    frame.to_csv(tmp_path / "train.csv", index=False)
    module = TabularDataModule(
        csv=str(tmp_path / "train.csv"), cont_names=["z"], y_name="y", valid_col="is_valid", cache_dir=str(cache_dir)
    )
    module.prepare_data()
    module.setup("fit")
    assert len(module.datasets["train"]) == 150 and len(module.datasets["valid"]) == 50
    np.testing.assert_allclose(module.datasets["valid"].tensors[2].numpy(), frame["y"][150:], rtol=1e-6)


@pytest.mark.parametrize(
    ("flag", "side"),
    [pytest.param(0, "no validation rows", id="all false"), pytest.param(1, "no training rows", id="all true")],
)
def test_a_valid_col_that_empties_a_side_is_refused_before_training(tmp_path, cache_dir, flag, side):
    frame = generic_csv(tmp_path / "train.csv", 20, seed=0)
    frame["is_valid"] = flag
    frame.to_csv(tmp_path / "train.csv", index=False)
    module = TabularDataModule(
        csv=str(tmp_path / "train.csv"), cont_names=["z"], y_name="y", valid_col="is_valid", cache_dir=str(cache_dir)
    )
    with pytest.raises(DataError, match=f"train.csv: valid_col=is_valid leaves {side} among the 20 rows"):
        module.prepare_data()


def test_tabular_classification_learns_the_house_type_and_predicts_class_probabilities(run_task, tmp_path):
    """The sample's house type follows from area and garden: far above the majority class's 50%."""
    metrics = run_task("tabular_clas", "trainer.max_epochs=3", "predict=true", run_dir=tmp_path / "clas")
    assert metrics["val/acc"] > 0.75 and "val/auroc" not in metrics  # three classes
    predictions = pd.read_csv(tmp_path / "clas" / "predictions.csv")
    probs = predictions[["prob_detached", "prob_flat", "prob_terraced"]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    assert (predictions["prediction"] == np.array(["detached", "flat", "terraced"])[probs.argmax(1)]).all()
    rows = predictions.drop(columns=["prediction", "probability", "prob_detached", "prob_flat", "prob_terraced"])
    again = load_run(tmp_path / "clas").predict(rows.to_dict("records"))  # JSON-like records
    np.testing.assert_allclose(again[["prob_detached", "prob_flat", "prob_terraced"]], probs, rtol=1e-5)
    assert (again["prediction"] == predictions["prediction"]).all()


def test_class_codes_follow_the_training_labels_and_name_an_unseen_one():
    frame = pd.DataFrame({"y": [10, 2, 2, 10, 1, 3]})
    train = np.array([True, True, True, True, True, False])
    with pytest.raises(DataError, match=r"1 validation row\(s\) have label\(s\) of 'y' that no training row has: '3'"):
        class_codes(frame, "y", train, "t.csv")
    codes, classes = class_codes(frame.iloc[:5], "y", train[:5], "t.csv")
    assert classes == ["1", "2", "10"] and codes.tolist() == [2, 1, 1, 2, 0]
    with pytest.raises(DataError, match="1 missing label"):
        class_codes(pd.DataFrame({"y": ["a", None, "b"]}), "y", np.ones(3, bool), "t.csv")
    with pytest.raises(ValueError, match="log_target=true takes the log of a number"):
        TabularDataModule(classify=True, log_target=True)
