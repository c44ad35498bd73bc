"""The built-in weekly sales: products whose sales follow a known level, trend and season, with Poisson noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import write_once

SALES_FILE = "Sales_Transactions_Dataset_Weekly.csv"


def weekly_sales(n_products: int = 300, n_weeks: int = 52, seed: int = 0) -> pd.DataFrame:
    """Weekly sales counts in the UCI file's layout: Product_Code, W0.., MIN, MAX, Normalized 0...

    A product's expected sales are level * (1 + trend * week) * (1 + amplitude * sin(2 pi week / 13 +
    phase)); the counts are Poisson around them. The noise makes last week's count a poor guess of
    next week's (its error is about twice the noise's variance) while the smooth mean is learnable.
    """
    rng = np.random.default_rng(seed)
    weeks = np.arange(n_weeks)
    level = rng.lognormal(np.log(20), 0.5, n_products)[:, None]
    trend = rng.uniform(-0.008, 0.015, n_products)[:, None]
    amplitude = rng.uniform(0.3, 0.7, n_products)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_products)[:, None]
    expected = level * (1 + trend * weeks) * (1 + amplitude * np.sin(2 * np.pi * weeks / 13 + phase))
    sales = rng.poisson(np.clip(expected, 0.1, None))
    low, high = sales.min(1, keepdims=True), sales.max(1, keepdims=True)
    normalized = np.round((sales - low) / np.maximum(high - low, 1), 2)
    frame = pd.DataFrame(sales, columns=[f"W{w}" for w in weeks])
    frame.insert(0, "Product_Code", [f"P{i + 1}" for i in range(n_products)])
    frame["MIN"], frame["MAX"] = low[:, 0], high[:, 0]
    return pd.concat([frame, pd.DataFrame(normalized, columns=[f"Normalized {w}" for w in weeks])], axis=1)


def write_weekly_sales_sample(folder: str | Path) -> Path:
    """``Sales_Transactions_Dataset_Weekly.csv``, as the UCI distribution names it."""

    def write(tmp: Path) -> None:
        weekly_sales().to_csv(tmp / SALES_FILE, index=False)

    return write_once(folder, write)
