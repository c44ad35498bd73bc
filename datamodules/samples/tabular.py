"""The built-in table: house prices from a known formula of their columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import write_once

TABULAR_SAMPLE_COLUMNS = {
    "csv": "houses.csv",
    "cat_names": ["district", "house_type", "garden"],
    "cont_names": ["area_m2", "rooms", "year_built", "distance_km"],
    "y_name": "price_k",
    "predict_csv": "houses_new.csv",
}
# the same houses with their type to classify: area and garden tell it (flats are small and rarely have one)
TABULAR_CLASSIFICATION_SAMPLE_COLUMNS = {
    "csv": "houses.csv",
    "cat_names": ["district", "garden"],
    "cont_names": ["area_m2", "rooms", "year_built", "distance_km"],
    "y_name": "house_type",
    "predict_csv": "houses_new.csv",
}


def tabular_houses(n_rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """House prices (thousands) from a known log-linear model: district level, house type, garden, area,
    age and distance to the centre, with 5% noise. 5% of the areas are missing."""
    rng = np.random.default_rng(seed)
    districts = [f"D{i:02d}" for i in range(15)]
    district_level = rng.normal(0, 0.3, len(districts))
    house_types = np.array(["flat", "terraced", "detached"])
    type_level = np.array([-0.15, 0.0, 0.25])
    district = rng.integers(0, len(districts), n_rows)
    house_type = rng.choice(3, n_rows, p=[0.5, 0.3, 0.2])
    garden = rng.random(n_rows) < np.array([0.1, 0.6, 0.9])[house_type]
    area = np.round(rng.lognormal(np.log([60, 110, 160])[house_type], 0.25), 1)
    rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.7, n_rows)), 1, 9).astype(int)
    year_built = rng.integers(1900, 2021, n_rows)
    distance = np.round(rng.gamma(2.0, 4.0, n_rows), 2)
    log_price = (
        np.log(2.5) + np.log(area) + district_level[district] + type_level[house_type] + 0.08 * garden
        - 0.02 * distance + 0.002 * (year_built - 1960) + rng.normal(0, 0.05, n_rows)
    )  # fmt: skip
    frame = pd.DataFrame(
        {
            "district": np.array(districts)[district],
            "house_type": house_types[house_type],
            "garden": np.where(garden, "yes", "no"),
            "area_m2": area,
            "rooms": rooms,
            "year_built": year_built,
            "distance_km": distance,
            "price_k": np.round(np.exp(log_price), 1),
        }
    )
    frame.loc[rng.random(n_rows) < 0.05, "area_m2"] = np.nan
    return frame


def write_tabular_sample(folder: str | Path) -> Path:
    """``houses.csv`` and ``houses_new.csv`` (the same columns without the price, to predict)."""

    def write(tmp: Path) -> None:
        tabular_houses().to_csv(tmp / "houses.csv", index=False)
        tabular_houses(200, seed=1).drop(columns="price_k").to_csv(tmp / "houses_new.csv", index=False)

    return write_once(folder, write)
