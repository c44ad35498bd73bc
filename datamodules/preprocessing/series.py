"""Weekly series for a trained forecaster: the week columns it was trained on."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import torch

from datamodules.preprocessing.base import InputError, Preprocessing, as_frame, plain

WEEK_PREFIX = "W"


@dataclasses.dataclass
class SeriesPreprocessing(Preprocessing):
    """Rows of weekly values ``W0, W1, ...`` (any number of weeks) -> the forecast of the week after the last.

    The model normalizes by its own training statistics, so this only orders and checks the columns:
    ``product`` (``id_column``) is kept when present; every week must be a finite number. ``n_weeks``
    (the training file's) is the length an exported ONNX model takes (ONNX fixes a recurrent net's steps).
    """

    kind = "series"

    id_column: str = "Product_Code"
    n_weeks: int = 52

    def rows(self, inputs: Any) -> pd.DataFrame:
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(r, (list, tuple)) for r in inputs):
            if len({len(r) for r in inputs}) != 1:
                raise InputError("series to forecast: every series needs the same number of weeks")
            inputs = pd.DataFrame(
                [list(r) for r in inputs], columns=[f"{WEEK_PREFIX}{i}" for i in range(len(inputs[0]))]
            )
        frame = as_frame(inputs, "series to forecast")
        weeks = self.week_names(frame)
        if not weeks:
            raise InputError("series to forecast have no week columns W0, W1, ...")
        values = frame[weeks].apply(pd.to_numeric, errors="coerce").to_numpy("float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(
                f"series to forecast: row {row}, {weeks[col]} is {plain(frame[weeks[col]].iloc[row])!r}, not a number"
            )
        return frame.assign(**{w: values[:, i] for i, w in enumerate(weeks)})

    def encode(self, rows: pd.DataFrame) -> tuple[torch.Tensor, ...]:
        return (torch.from_numpy(rows[self.week_names(rows)].to_numpy(np.float32)),)

    def example(self) -> tuple[torch.Tensor, ...]:
        return (torch.zeros(2, self.n_weeks),)

    @staticmethod
    def week_names(rows: pd.DataFrame) -> list[str]:
        """``W0, W1, ...`` up to the first one missing."""
        weeks = []
        while f"{WEEK_PREFIX}{len(weeks)}" in rows.columns:
            weeks.append(f"{WEEK_PREFIX}{len(weeks)}")
        return weeks

    def table(self, rows: pd.DataFrame, outputs: list[torch.Tensor]) -> pd.DataFrame:
        weeks = self.week_names(rows)
        forecasts = torch.cat(outputs).double().numpy()[:, -1]
        frame = pd.DataFrame({"week": f"{WEEK_PREFIX}{len(weeks)}", "forecast": forecasts})
        if self.id_column in rows.columns:
            frame.insert(0, self.id_column, rows[self.id_column].to_numpy())
        return frame
