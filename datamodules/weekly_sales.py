"""Weekly sales per product (the UCI file of workshop activity 6.01) as next-week forecasting sequences.

Each product is one sequence: the inputs are its weeks W0..W(n-2), the targets the same weeks
shifted by one (W1..W(n-1)). Validation holds out whole products.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from datamodules.batching import InMemoryDataModule, TensorBatches
from datamodules.cache import Arrays, cached, file_fingerprint
from datamodules.files import DataError, bad_lines, check_domain, numeric_column, read_csv
from datamodules.preprocessing.series import SeriesPreprocessing
from datamodules.samples.weekly_sales import SALES_FILE, write_weekly_sales_sample
from datamodules.source import DataSource
from datamodules.splits import check_valid_pct, random_split, valid_mask

SAMPLE_NAME = "weekly-sales-v1"
PRODUCT = "Product_Code"
WEEK = re.compile(r"W(\d+)")


def check_row_lengths(path: Path) -> None:
    """Every row has as many fields as the header: pandas would fill a short row's last columns silently."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        header = next(rows, [])
        for line, row in enumerate(rows, start=2):
            if row and len(row) != len(header):
                raise DataError(
                    f"{path}, line {line}: {len(row)} fields where the header has {len(header)}; "
                    f"every product needs one value per column (fix or remove the row)"
                )


def week_columns(columns: list[str], path: Path) -> list[str]:
    """The columns W0, W1, ... in order; an error unless there are at least two, numbered without gaps."""
    numbers = sorted(int(match[1]) for c in columns if (match := WEEK.fullmatch(str(c))))
    if len(numbers) < 2:
        raise DataError(
            f"{path} has {len(numbers)} week column(s) (W0, W1, ...): forecasting next week needs at least two"
        )
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
        raise DataError(f"{path}: week columns must run W0, W1, ... without gaps; missing W{missing[0]}")
    return [f"W{n}" for n in numbers]


def read_weekly_sales(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The product codes and their sales, one row per product and one column per week (MIN, MAX and the
    Normalized columns are ignored)."""
    frame = read_csv(path, required=[PRODUCT], what="weekly sales", dtype={PRODUCT: str}, keep_default_na=False)
    check_row_lengths(path)
    weeks = week_columns(list(frame.columns), path)
    blank = frame[PRODUCT].str.strip() == ""
    if blank.any():
        raise DataError(f"{path}: column {PRODUCT!r} is empty at {bad_lines(frame, PRODUCT, blank.to_numpy())}")
    columns = []
    for week in weeks:
        column = numeric_column(frame, week, path)
        check_domain(frame, week, path, column >= 0, "sales of zero or more (counts sold in the week)")
        columns.append(column)
    return frame[PRODUCT].to_numpy(dtype=str), np.stack(columns, axis=1)


def shifted_tables(sales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (each week but the last) and targets (each week but the first): target t is the week after input t."""
    return sales[:, :-1], sales[:, 1:]


class WeeklySalesDataModule(InMemoryDataModule):
    """Products' weekly sales from ``Sales_Transactions_Dataset_Weekly.csv`` in ``data_dir`` (or the built-in
    sample) as (inputs, targets) sequences, in sales counts.

    A seeded ``valid_pct`` of the products is held out for validation. ``describe()`` gives the model the
    mean and standard deviation of the training inputs, by which it normalizes. Predict forecasts, for
    every product, each week after the first from the weeks before it, the week after the last included.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        csv: str = SALES_FILE,
        valid_pct: float = 0.2,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
    ) -> None:
        super().__init__()
        check_valid_pct(valid_pct)
        self.source = DataSource(data_dir=data_dir, cache_dir=cache_dir)
        self.csv = csv
        self.valid_pct = valid_pct
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.arrays: Arrays | None = None
        self.datasets: dict[str, TensorBatches] = {}

    @property
    def csv_path(self) -> Path:
        """The sales file: ``csv`` inside the folder (data_dir or the sample's), or as given when absolute."""
        return self.source.resolve(SAMPLE_NAME, write_weekly_sales_sample) / self.csv

    def prepare_data(self) -> None:
        self.load()

    def setup(self, stage: str) -> None:
        if self.datasets:
            return
        arrays = self.load()
        for split, rows in (("train", ~arrays["is_valid"]), ("valid", arrays["is_valid"])):
            inputs, targets = shifted_tables(arrays["sales"][rows])
            self.datasets[split] = TensorBatches(torch.from_numpy(inputs.copy()), torch.from_numpy(targets.copy()))
        self.datasets["predict"] = TensorBatches(torch.from_numpy(arrays["sales"]))

    def load(self) -> Arrays:
        """Product codes, sales and the validation mask, from the cache or read and stored there."""
        if self.arrays is None:
            path = self.csv_path
            settings = {"inputs": [file_fingerprint(path)] if path.is_file() else [str(path)]}
            settings |= {"valid_pct": self.valid_pct, "seed": self.seed}

            def build() -> tuple[Arrays, dict]:
                products, sales = read_weekly_sales(path)
                _, valid = random_split(len(products), self.valid_pct, self.seed, what="products")
                return {"products": products, "sales": sales, "is_valid": valid_mask(len(products), valid)}, {}

            self.arrays, _ = cached(self.source.cache_dir, "weekly_sales", settings, build)
        return self.arrays

    def describe(self) -> dict:
        """The training inputs' mean and standard deviation (in sales counts), for the model to normalize by."""
        arrays = self.load()
        inputs, _ = shifted_tables(arrays["sales"][~arrays["is_valid"]])
        std = float(inputs.std())
        return {"series_mean": float(inputs.mean()), "series_std": std if std > 0 else 1.0}

    def preprocessing(self) -> SeriesPreprocessing:
        """Nothing but the columns: the model normalizes by its own training statistics."""
        return SeriesPreprocessing(PRODUCT, int(self.load()["sales"].shape[1]))

    def predict_dataloader(self) -> DataLoader:
        return self.evaluation_loader("predict", sharded=False)

    def valid_series(self, n: int = 5) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """The first ``n`` validation products: their codes, inputs and targets (for a plot)."""
        self.setup("fit")
        arrays, valid = self.load(), self.datasets["valid"]
        inputs, targets = valid[torch.arange(min(n, len(valid)))]
        return arrays["products"][arrays["is_valid"]][:n].tolist(), inputs, targets

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``predictions.csv``: product, week (W1.. up to the week after the last), forecast, and the actual
        sales where the file has them."""
        arrays = self.load()
        forecasts = torch.cat(predictions).double().numpy()
        n_products, n_weeks = arrays["sales"].shape
        actual = np.full((n_products, n_weeks), np.nan)
        actual[:, :-1] = arrays["sales"][:, 1:]
        frame = pd.DataFrame(
            {
                "product": np.repeat(arrays["products"], n_weeks),
                "week": np.tile([f"W{w}" for w in range(1, n_weeks + 1)], n_products),
                "forecast": forecasts.reshape(-1),
                "actual": actual.reshape(-1),
            }
        )
        path = Path(out_dir) / "predictions.csv"
        frame.to_csv(path, index=False)
        return path
