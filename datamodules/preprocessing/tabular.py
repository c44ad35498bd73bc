"""A table's rows for a trained tabular model: the training rows' codes, medians and scaling."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import torch

from datamodules.preprocessing.base import Preprocessing, as_frame, class_columns
from datamodules.tabular_encoding import TabularProcessor


@dataclasses.dataclass
class TablePreprocessing(Preprocessing):
    """Raw rows with the training table's feature columns -> (codes, continuous values) -> predictions.

    A category the training rows did not have gets the unknown code, a missing number the training
    median, as in training. ``log_target`` predictions are exponentiated back to the target's units;
    ``classes`` (a classifier's labels) give one probability column per class, ``targets`` (several numbers
    predicted together) one ``prediction_<target>`` column each. ``closed_column``
    (Rossmann's ``Open``) marks rows whose prediction is 0 where it is 0.
    """

    kind = "table"

    processor: dict[str, Any]
    log_target: bool = False
    classes: list[str] | None = None
    closed_column: str | None = None
    targets: list[str] | None = None

    def rows(self, inputs: Any) -> pd.DataFrame:
        return as_frame(inputs, "rows to predict")

    def encode(self, rows: pd.DataFrame) -> tuple[torch.Tensor, ...]:
        x_cat, x_cont = TabularProcessor.from_dict(self.processor).transform(rows, "the input")
        return torch.from_numpy(x_cat), torch.from_numpy(x_cont)

    def example(self) -> tuple[torch.Tensor, ...]:
        processor = TabularProcessor.from_dict(self.processor)
        return torch.zeros(2, len(processor.all_cat_names), dtype=torch.long), torch.zeros(2, len(processor.cont_names))

    def values(self, outputs: list[torch.Tensor]) -> np.ndarray:
        """The outputs on the target's own scale (class probabilities for a classifier)."""
        values = torch.cat(outputs).double().numpy()
        return np.exp(values) if self.log_target else values

    def prediction_columns(self, outputs: list[torch.Tensor]) -> dict[str, Any]:
        """``prediction``: the value, or a classifier's likeliest class with ``probability`` and ``prob_<class>``,
        or ``prediction_<target>`` for each of several targets."""
        if self.classes is not None:
            return class_columns(torch.cat(outputs), self.classes)
        values = self.values(outputs)
        if self.targets is not None:
            return {f"prediction_{name}": values[:, i] for i, name in enumerate(self.targets)}
        return {"prediction": values}

    def table(self, rows: pd.DataFrame, outputs: list[torch.Tensor]) -> pd.DataFrame:
        columns = self.prediction_columns(outputs)
        if self.closed_column is not None and self.closed_column in rows.columns:
            columns["prediction"] = np.where(rows[self.closed_column].to_numpy() == 0, 0.0, columns["prediction"])
        return rows.assign(**columns)
