"""Weekly sales (workshop activity 6.01): the shifted tables, bad files, and the RNN against last week's sales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch

from datamodules import DataError, WeeklySalesDataModule
from fastlightning import load_run
from lightning_models.sequence import SeriesForecaster, SeriesRNN

SALES = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]])


def write_sales(folder, text: str | bytes):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Sales_Transactions_Dataset_Weekly.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


def uci_layout(sales: np.ndarray) -> str:
    """The UCI file's columns: Product_Code, W0.., MIN, MAX, Normalized 0.. (the last ones to be ignored)."""
    weeks = range(sales.shape[1])
    header = ["Product_Code", *(f"W{w}" for w in weeks), "MIN", "MAX", *(f"Normalized {w}" for w in weeks)]
    rows = [[f"P{i}", *row, row.min(), row.max(), *([0.5] * len(row))] for i, row in enumerate(sales)]
    return "\n".join(",".join(map(str, row)) for row in [header, *rows]) + "\n"


def prepared(tmp_path, folder, **kwargs) -> WeeklySalesDataModule:
    dm = WeeklySalesDataModule(data_dir=str(folder), cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_targets_are_the_inputs_shifted_one_week_and_validation_holds_out_whole_products(tmp_path):
    dm = prepared(tmp_path, write_sales(tmp_path / "sales", uci_layout(SALES)), valid_pct=0.4, batch_size=8)
    train_inputs, train_targets = next(iter(dm.train_dataloader()))
    val_inputs, val_targets = next(iter(dm.val_dataloader()))
    assert len(train_inputs) == 3 and len(val_inputs) == 2
    for inputs, targets in ((train_inputs, train_targets), (val_inputs, val_targets)):
        assert inputs.shape[1] == 3 and torch.equal(targets[:, :-1], inputs[:, 1:])
    rows = {tuple(row.tolist()) for row in torch.cat([train_inputs, val_inputs])}
    assert rows == {tuple(map(float, row[:3])) for row in SALES}
    train_weeks = train_inputs.double()
    assert dm.describe() == pytest.approx(
        {"series_mean": train_weeks.mean().item(), "series_std": train_weeks.std(correction=0).item()}
    )


def test_a_bom_and_crlf_file_reads_like_a_plain_one(tmp_path):
    plain = prepared(tmp_path / "a", write_sales(tmp_path / "plain", uci_layout(SALES)))
    windows = prepared(
        tmp_path / "b", write_sales(tmp_path / "win", ("\ufeff" + uci_layout(SALES)).replace("\n", "\r\n"))
    )
    assert np.array_equal(plain.load()["sales"], windows.load()["sales"])
    assert list(windows.load()["products"]) == [f"P{i}" for i in range(5)]


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param("", "is empty", id="empty file"),
        pytest.param(
            "Product_Code,W0,W1,W2\nP1,1,2,3\nP2,4,5\n", "line 3: 3 fields where the header has 4", id="ragged row"
        ),
        pytest.param(
            "Product_Code,W0,W1\nP1,1,2\nP2,4,n/a\n",
            r"column 'W1' must hold finite numbers; 1 value\(s\) are not \(line 3: 'n/a'\)",
            id="non-numeric week",
        ),
        pytest.param(
            "Product_Code,W0,W1\nP1,1,2\nP2,-3,4\n",
            r"column .W0. must hold sales of zero or more \(counts sold in the week\); 1 value\(s\) do not \(line 3",
            id="negative sales",
        ),
        pytest.param("Product_Code,W0,MIN\nP1,1,1\n", "has 1 week column", id="fewer weeks than the window"),
        pytest.param("Product_Code,W0,W2\nP1,1,2\n", "missing W1", id="a gap in the weeks"),
        pytest.param("Code,W0,W1\nP1,1,2\n", "has no column 'Product_Code'", id="no product column"),
        pytest.param(
            "Product_Code,W0,W1\nP1,1,2\n,3,4\n", "column 'Product_Code' is empty at line 3", id="blank product"
        ),
        pytest.param("Product_Code,W0,W1\nP1,1,2\n".encode("utf-16"), "is not valid utf-8 text", id="utf-16 file"),
    ],
)
def test_bad_file_names_the_file_and_leaves_no_cache(tmp_path, content, message):
    folder = write_sales(tmp_path / "sales", content)
    with pytest.raises(DataError, match=message) as error:
        prepared(tmp_path, folder)
    assert str(folder) in str(error.value)
    cache = tmp_path / "cache" / "weekly_sales"
    assert not cache.exists() or not [p for p in cache.iterdir() if p.is_dir()]


def test_every_cell_forecasts_each_step_and_an_unknown_one_is_refused():
    series = torch.randn(4, 7)
    for cell in ("rnn", "lstm", "gru"):
        assert SeriesRNN(cell)(series).shape == (4, 7)
    with pytest.raises(ValueError, match="unknown recurrent cell 'transformer': choose one of rnn, lstm, gru"):
        SeriesRNN("transformer")


def test_rnn_beats_last_weeks_sales_on_the_sample_and_writes_its_reports(run_task, tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    metrics = run_task("weekly_sales", "model.lr=1e-2", "trainer.max_epochs=30", "predict=true", run_dir=run_dir)
    assert metrics["val/mse"] < 0.8 * metrics["val/naive_mse"]
    assert metrics["val/loss"] < 0.5  # normalized MSE: below the variance of the series
    assert (run_dir / "forecast.png").is_file() and (run_dir / "loss_curve.png").is_file()
    losses = pd.read_csv(run_dir / "loss_curve.csv")
    assert list(losses.step) == list(range(1, 30 * 7 + 1))  # 240 training products, 7 batches of 32
    assert losses.loss.tail(20).mean() < 0.5 * losses.loss.head(20).mean()
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert list(predictions.columns) == ["product", "week", "forecast", "actual"]
    assert len(predictions) == 300 * 52 and predictions.week.iloc[-1] == "W52"
    assert predictions.actual.isna().sum() == 300  # the week after the file's last has no actual
    first = predictions[predictions["product"] == "P1"]
    assert first.week.iloc[0] == "W1" and first.forecast.notna().all()
    sales = pd.read_csv(WeeklySalesDataModule(cache_dir=str(cache_dir)).csv_path)
    again = load_run(run_dir).predict(sales.head(5))  # every week W0..W51 -> the forecast of W52
    assert again.week.eq("W52").all() and again["Product_Code"].tolist() == sales["Product_Code"][:5].tolist()
    np.testing.assert_allclose(again.forecast, predictions[predictions.week == "W52"].forecast[:5], rtol=1e-6)


def test_modules_work_in_a_plain_lightning_project(tmp_path):
    dm = WeeklySalesDataModule(cache_dir=str(tmp_path))
    pl.seed_everything(0)
    model = SeriesForecaster(**dm.describe(), cell="gru", lr=1e-2, optimizer="adam")
    trainer = pl.Trainer(max_epochs=15, logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val/mse"] < trainer.callback_metrics["val/naive_mse"]
