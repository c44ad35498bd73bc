"""The workshop's tables (the Somerville survey, the UCI credit-card clients) read as distributed, the
test split of a table, and their tasks against the baselines their samples define."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.utils import instantiate

from datamodules import DataError, TabularDataModule
from datamodules.samples.workshop_tables import CREDIT_TARGET
from tests.conftest import compose_config

SOMERVILLE = "\ufeffD,X1,X2,X3,X4,X5,X6\r\n0,3,3,3,4,2,4\r\n0,3,2,3,5,4,3\r\n1,5,3,3,3,3,5\r\n1,5,4,3,3,3,5\r\n"
CREDIT_HEADER = ",".join(
    f'"{c}"'
    for c in ["ID", "LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5"]
    + ["PAY_6", *(f"BILL_AMT{i}" for i in range(1, 7)), *(f"PAY_AMT{i}" for i in range(1, 7)), CREDIT_TARGET]
)


def prepared(tmp_path, **kwargs) -> TabularDataModule:
    dm = TabularDataModule(cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_the_somerville_file_with_its_bom_and_crlf_lines_gives_six_answers_and_the_label(tmp_path):
    folder = tmp_path / "survey"
    folder.mkdir()
    (folder / "SomervilleHappinessSurvey2015.csv").write_bytes(SOMERVILLE.encode())
    dm = prepared(tmp_path, data_dir=str(folder), dataset="somerville", valid_pct=0.25)
    assert dm.columns.cont_names == ["X1", "X2", "X3", "X4", "X5", "X6"] and dm.columns.y_name == "D"
    assert dm.describe() == {"emb_szs": [], "n_cont": 6, "y_range": [0.0, 1.2], "log_target": False}
    labels = torch.cat([dm.datasets["train"].tensors[2], dm.datasets["valid"].tensors[2]])
    assert sorted(labels.tolist()) == [0, 0, 1, 1]


def test_the_builtin_samples_keep_the_distributed_layouts(tmp_path):
    survey = TabularDataModule(dataset="somerville", cache_dir=str(tmp_path)).csv_path.read_bytes()
    assert survey.startswith(b"\xef\xbb\xbfD,X1,X2,X3,X4,X5,X6\r\n") and survey.count(b"\r\n") == 144
    credit = TabularDataModule(dataset="credit_default", cache_dir=str(tmp_path)).csv_path.read_text()
    assert credit.startswith(CREDIT_HEADER + "\n") and "e+05," in credit


def test_credit_clients_in_kaggles_layout_with_r_style_numbers(tmp_path):
    folder = tmp_path / "uci"
    folder.mkdir()
    rows = [
        "1,2e+04,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1",
        "2,120000,2,2,2,26,-1,2,0,0,0,2,2682,1725,2682,3272,3455,3261,0,1000,1000,1000,0,2000,1",
        "3,5e+05,1,1,2,29,0,0,0,0,0,0,367965,412023,445007,542653,483003,473944,55000,40000,38000,20239,13750,13770,0",
        "4,1e+05,2,2,2,23,0,-1,-1,0,0,-1,11876,380,601,221,-159,567,380,601,0,581,1687,1542,0",
    ]
    (folder / "UCI_Credit_Card.csv").write_text("\n".join([CREDIT_HEADER, *rows]) + "\n")
    dm = prepared(tmp_path, data_dir=str(folder), dataset="credit_default", classify=True, valid_pct=0.25)
    assert dm.describe()["classes"] == ["0", "1"] and dm.describe()["n_cont"] == 14
    limits = pd.read_csv(folder / "UCI_Credit_Card.csv")["LIMIT_BAL"]
    processor = dm.processor
    assert sorted(limits) == [20000, 100000, 120000, 500000]
    assert processor.cont_names[0] == "LIMIT_BAL" and processor.cat_names[:3] == ["SEX", "EDUCATION", "MARRIAGE"]


def test_a_test_split_is_seeded_and_disjoint_from_training_and_validation(tmp_path):
    dm = prepared(tmp_path, dataset="credit_default", classify=True, valid_pct=0.2, test_pct=0.2)
    sizes = {split: len(dm.datasets[split]) for split in ("train", "valid", "test")}
    assert sizes == {"train": 1800, "valid": 600, "test": 600} and dm.has_test_set
    again = prepared(tmp_path / "again", dataset="credit_default", classify=True, valid_pct=0.2, test_pct=0.2)
    assert torch.equal(dm.datasets["test"].tensors[1], again.datasets["test"].tensors[1])
    rows = [{tuple(r) for r in dm.datasets[split].tensors[1].tolist()} for split in ("train", "valid", "test")]
    assert not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    assert not prepared(tmp_path / "none", dataset="credit_default", classify=True).has_test_set


@pytest.mark.parametrize(
    "dataset, file, text, message",
    [
        pytest.param(
            "somerville",
            "SomervilleHappinessSurvey2015.csv",
            SOMERVILLE.replace("1,5,3,3,3,3,5", "1,5,3,3,7,3,5"),
            r"column 'X4' must hold numbers from 1 to 5; 1 value\(s\) do not \(line 4: 7\)",
            id="a survey answer off the scale",
        ),
        pytest.param(
            "somerville",
            "SomervilleHappinessSurvey2015.csv",
            SOMERVILLE.replace("1,5,4,3,3,3,5", "2,5,4,3,3,3,5"),
            r"column 'D' must hold numbers from 0 to 1; 1 value\(s\) do not \(line 5: 2\)",
            id="a survey label other than 0 or 1",
        ),
        pytest.param(
            "credit_default",
            "UCI_Credit_Card.csv",
            CREDIT_HEADER + "\n1,20000,3,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1\n",
            r"column 'SEX' must hold numbers from 1 to 2; 1 value\(s\) do not \(line 2: 3\)",
            id="a credit client's sex code outside 1-2",
        ),
        pytest.param(
            "credit_default",
            "UCI_Credit_Card.csv",
            CREDIT_HEADER + "\n1,20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,200\n",
            r"column 'default.payment.next.month' must hold numbers from 0 to 1; .*\(line 2: 200\)",
            id="a credit default label far outside 0-1",
        ),
        pytest.param(
            "credit_default",
            "UCI_Credit_Card.csv",
            CREDIT_HEADER + "\n1,20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,-5,689,0,0,0,0,1\n",
            r"column 'PAY_AMT1' must hold numbers from 0 to inf; .*\(line 2: -5\)",
            id="a negative amount paid",
        ),
    ],
)
def test_a_known_tables_values_outside_their_documented_range_are_refused(tmp_path, dataset, file, text, message):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / file).write_bytes(text.encode())
    with pytest.raises(DataError, match=message):
        prepared(tmp_path, data_dir=str(folder), dataset=dataset, classify=dataset == "credit_default")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            {"dataset": "iris"}, ValueError, "unknown dataset 'iris': choose one of houses, ", id="unknown dataset"
        ),
        pytest.param(
            {"dataset": "somerville", "valid_pct": 0.5, "test_pct": 0.5},
            DataError,
            r"test_pct=0.5 of 143 rows is 72 test rows, with 71 rows outside validation",
            id="test split leaves nothing to train on",
        ),
        pytest.param(
            {"dataset": "somerville", "test_pct": 1.0},
            ValueError,
            r"test_pct must lie in \[0, 1\), got 1.0",
            id="test_pct 1",
        ),
    ],
)
def test_bad_dataset_or_test_split_is_refused(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        prepared(tmp_path, **kwargs)


def test_somerville_trains_the_workshops_single_layer_below_the_constant_guess(run_task, tmp_path, cache_dir):
    cfg = compose_config("somerville", tmp_path / "cfg", cache_dir)
    dm = instantiate(cfg.data)
    dm.prepare_data()
    model = instantiate(cfg.model, **dm.describe())
    layers = [m for m in model.net.modules() if len(list(m.children())) == 0 and list(m.parameters())]
    assert [(m.in_features, m.out_features) for m in layers] == [(6, 1)]
    run_dir = tmp_path / "run"
    metrics = run_task("somerville", run_dir=run_dir)
    dm.setup("fit")
    val_labels = dm.datasets["valid"].tensors[2]
    constant_guess = float(val_labels.var(correction=0))  # the MSE of predicting the validation mean
    assert metrics["val/loss"] < 0.9 * constant_guess
    losses = pd.read_csv(run_dir / "loss_curve.csv").loss
    assert len(losses) == 100 and losses.iloc[-1] < 0.2 < losses.iloc[0]


def test_credit_default_beats_the_majority_class_on_its_test_set(run_task, cache_dir):
    metrics = run_task("credit_default")
    dm = prepared(cache_dir / "majority", dataset="credit_default", classify=True, test_pct=0.2)
    majority = float(np.mean(dm.datasets["test"].tensors[2].numpy() == 0))
    assert metrics["test/acc"] > majority + 0.05 and metrics["test/auroc"] > 0.8
    assert {"val/acc", "val/auroc", "test/loss"} <= metrics.keys()


def test_a_regression_table_reports_its_test_rmse(run_task):
    metrics = run_task("tabular", "data.test_pct=0.2", "trainer.max_epochs=1")
    assert metrics["test/rmse"] > 0 and "test/loss" in metrics
